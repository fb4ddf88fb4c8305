#include "node.h"

#include <spdlog/spdlog.h>

#include "lantoa/internal/file_util.h"
#include "api/http_api.h"
#include "json_form/json_form.h"
#include "lantoa/encoding.h"
#include "lantoa/names.h"
#include "ninjs/ninjs.h"
#include "review/review_desk.h"

namespace lantoa::node {
namespace {

using nlohmann::json;
using E = v1::Error;

}  // namespace

Node::Node(NodeConfig config) : config_(std::move(config)) {}

Node::~Node() { stop(); }

Result<std::unique_ptr<Node>> Node::start(NodeConfig config) {
  std::unique_ptr<Node> n(new Node(std::move(config)));
  const NodeConfig& c = n->config_;
  // Everything the node needs is checked first, and every problem named at
  // once; nothing is created (data folder, files) before all is right.
  std::vector<Status> problems;
  auto key = MemberKey::load(c.key);
  if (!key) {
    problems.push_back(key.status());
  } else if (key->member != c.member) {
    problems.push_back(Status(E::INVALID_MEMBER_ID, "the key file " + c.key.string() + " belongs to " + key->member +
                                                        ", not to member " + c.member));
  }
  auto chain = load_chain(c.chain);
  if (!chain) {
    problems.push_back(chain.status());
  } else if (key && chain->certificates_size() > 0) {
    auto leaf = decode_certificate(chain->certificates(0));
    if (leaf && (leaf->member() != key->member || leaf->sign_key() != key->sign.public_key())) {
      problems.push_back(Status(E::SIGNER_MISMATCH, "the certificate chain " + c.chain.string() + " certifies " +
                                                        leaf->member() + " with another key than the one in " +
                                                        c.key.string()));
    }
  }
  bool editor = false, subscriber = false;
  if (chain && chain->certificates_size() > 0) {
    if (auto leaf = decode_certificate(chain->certificates(0))) {
      for (int r : leaf->roles()) {
        editor = editor || r == v1::EDITOR;
        subscriber = subscriber || r == v1::SUBSCRIBER;
      }
    }
  }
  if (c.review_inbox.value_or(false) && chain && !subscriber) {
    problems.push_back(Status(E::ROLE_MISSING, "review.inbox is true but the certificate " + c.chain.string() +
                                                   " lacks the subscriber role: the inbox cannot be read"));
  }
  auto root = PublicKeys::load(c.root);
  if (!root) problems.push_back(root.status());
  auto broker = resolve_broker(c.broker_endpoint, c.broker_key);
  if (!broker) problems.push_back(broker.status());
  std::vector<BrokerAddress> failover;
  for (const auto& [endpoint, mirror_key] : c.broker_failover) {
    auto mirror = resolve_broker(endpoint, mirror_key);
    if (!mirror) problems.push_back(Status(mirror.status().code(), "broker.failover " + endpoint + ": " +
                                                                       mirror.status().message()));
    else failover.push_back(std::move(*mirror));
  }
  if (Status token = HttpApi::check_token_file(c.token_file); !token.ok()) problems.push_back(token);
  if (!c.feed_secret_file.empty()) {
    if (Status secret = HttpApi::check_feed_secret_file(c.feed_secret_file); !secret.ok()) problems.push_back(secret);
  }
  if (problems.size() == 1) return problems[0];
  if (!problems.empty()) {
    std::string message = std::to_string(problems.size()) + " problems:";
    for (const Status& p : problems) message += "\n  - " + p.to_string();
    return Status(E::INVALID_ARGUMENT, message);
  }
  n->chain_ = std::move(*chain);
  n->root_ = {root->member, root->sign};
  n->broker_ = std::move(*broker);
  n->failover_ = std::move(failover);
  std::error_code ec;
  std::filesystem::create_directories(c.data, ec);
  if (ec) return Status(E::IO_ERROR, "cannot create " + c.data.string() + ": " + ec.message());
  std::filesystem::permissions(c.data, std::filesystem::perms::owner_all, ec);
  auto lock = internal::FolderLock::take(c.data, "node.lock", "lantoa-node");
  if (!lock) return lock.status();
  n->lock_.emplace(std::move(*lock));
  auto store = NodeStore::open(c.data / "state", c.member);
  if (!store) return store.status();
  n->store_ = std::move(*store);

  PublisherOptions po;
  po.broker = n->broker_;
  po.failover = n->failover_;
  po.outbox = c.data / "outbox";
  po.agent = "lantoa-node/0.1";
  NodeStore* st = n->store_.get();
  po.on_outcome = [st](const PublishOutcome& o) {
    Status s = st->record_outcome(o);
    if (!s.ok()) spdlog::error("cannot record the outcome of {}: {}", to_hex(o.event_id), s.to_string());
    if (o.status == v1::PublishResult::REJECTED) {
      spdlog::warn("event {} rejected by the broker: {}", to_hex(o.event_id), o.error.to_string());
    }
  };
  po.on_connection = [endpoint = n->broker_.endpoint](bool connected, const std::string& why) {
    if (connected) {
      spdlog::info("broker {}: connected", endpoint);
    } else {
      spdlog::warn("broker {}: not connected: {} (trying again; what is published waits in the outbox)", endpoint, why);
    }
  };
  auto publisher = Publisher::start(std::move(*key), n->chain_, po);
  if (!publisher) return publisher.status();
  n->publisher_ = std::move(*publisher);

  n->review_ = std::make_unique<ReviewDesk>(
      *n->store_,
      [node = n.get()](v1::Event event, const std::string& item_uri, const Idempotency& idempotency)
          -> Result<std::string> {
        auto accepted = node->publish_event(std::move(event), item_uri, &idempotency);
        if (!accepted) return accepted.status();
        return accepted->event_id;
      },
      c.member, c.endorse_topic, editor);
  n->review_->follow_up();  // what a stop left unendorsed
  std::vector<SubscriptionConfig> subscriptions = c.subscriptions;
  if (c.review_inbox.value_or(subscriber)) {
    SubscriptionConfig inbox{kInboxSubscription, {inbox_topic(c.member, ">")}, {}};
    inbox.start.set_earliest(true);
    subscriptions.push_back(std::move(inbox));
  }
  for (const auto& sub : subscriptions) {
    n->receivers_.push_back(std::make_unique<Receiver>(
        sub, Receiver::Identity{c.key, n->chain_, n->root_, n->broker_, n->failover_}, *n->store_, n->counters_,
        [desk = n->review_.get()] { desk->follow_up(); }));
  }
  for (const auto& w : c.webhooks) {
    n->deliveries_.push_back(std::make_unique<DeliveryWorker>(*n->store_, make_webhook_target(w), w.max_backoff));
  }
  if (!c.spool.empty()) n->deliveries_.push_back(std::make_unique<DeliveryWorker>(*n->store_, make_spool_target(c.spool, c.spool_mode)));
  for (const auto& f : c.feeds) {
    n->feeds_.push_back(std::make_unique<FeedPoller>(f, c.member, *n->store_, [node = n.get()](v1::Event e) {
      auto a = node->publish_event(std::move(e));
      if (!a) return Result<std::string>(a.status());
      return Result<std::string>(a->event_id);
    }));
  }
  n->api_ = std::make_unique<HttpApi>(*n);
  LANTOA_RETURN_IF_ERROR(n->api_->start());
  const json ready = {{"api", "http://" + c.api_host + ":" + std::to_string(n->api_->port())},
                      {"member", c.member},
                      {"pid", static_cast<int64_t>(getpid())}};
  LANTOA_RETURN_IF_ERROR(internal::write_file_atomic(c.data / "node.ready.json", ready.dump() + "\n", 0644, true));
  spdlog::info("lantoa-node {} ready: API on {}:{}, broker {}, {} subscription(s), {} webhook(s){}, {} feed(s)",
               c.member, c.api_host, n->api_->port(), n->broker_.endpoint, n->receivers_.size(), c.webhooks.size(),
               c.spool.empty() ? "" : ", spool " + c.spool.string(), c.feeds.size());
  return n;
}

void Node::stop() {
  if (stopping_.exchange(true)) return;
  if (api_) api_->stop();
  for (auto& f : feeds_) f->stop();
  for (auto& r : receivers_) r->request_stop();  // all at once: each may be in a poll
  for (auto& r : receivers_) r->stop();
  for (auto& d : deliveries_) d->stop();
  if (publisher_) (void)publisher_->flush(std::chrono::milliseconds(1000));  // the rest stays in the outbox
  publisher_.reset();
  std::error_code ec;
  std::filesystem::remove(config_.data / "node.ready.json", ec);
}

int Node::api_port() const { return api_ ? api_->port() : 0; }

Result<Accepted> Node::publish_event(v1::Event event, const std::string& item_uri, const Idempotency* idempotency) {
  auto pub = idempotency ? publisher_->publish(event, *idempotency) : publisher_->publish(event);
  if (!pub) return pub.status();
  if (pub->repeated) return Accepted{pub->event_id, pub->sequence, pub->kind, pub->refers_to, true};
  event.set_sequence(pub->sequence);
  event.set_origin(config_.member);
  LANTOA_RETURN_IF_ERROR(store_->record_queued(pub->event_id, event, item_uri));
  return Accepted{pub->event_id, pub->sequence, pub->kind, pub->refers_to, false};
}

Result<json> Node::latest_version(const std::string& id, const std::string& field) {
  auto rec = store_->published(id);
  if (!rec) return rec.status();
  const std::string hex = to_hex(id);
  if (!*rec) {
    return Status(E::INVALID_REFERENCE, "field \"" + field + "\": this node published no event " + hex +
                                            " (a correction or retraction names an event this portal published)");
  }
  if ((**rec).value("status", "") == "rejected") {
    return Status(E::INVALID_REFERENCE, "field \"" + field + "\": event " + hex + " was refused by the broker (" +
                                            (**rec)["error"].value("code", "") + "): there is nothing to correct");
  }
  std::string latest_id = id;
  if (auto item = from_hex((**rec).value("item", "")); item && item->size() == 32) {
    auto latest = store_->latest_for_item(ninjs_uri(config_.member, *item));
    if (!latest) return latest.status();
    if (!latest->empty()) latest_id = *latest;
  }
  json latest = **rec;
  if (latest_id != id) {
    auto newer = store_->published(latest_id);
    if (!newer) return newer.status();
    if (*newer) latest = std::move(**newer);
  }
  if (latest.value("kind", "") == "retraction") {
    return Status(E::INVALID_REFERENCE, "field \"" + field + "\": the item of event " + hex + " was withdrawn (event " +
                                            latest.value("id", "") + "): publish a new item instead");
  }
  return latest;
}

Result<Accepted> Node::publish_document(const json& doc, const std::string& topic, const Idempotency* idempotency) {
  if (idempotency) {  // a repeat is answered before anything else is checked: the item may have moved on since
    auto earlier = publisher_->published_with(*idempotency);
    if (!earlier) return earlier.status();
    if (*earlier) {
      return Accepted{(*earlier)->event_id, (*earlier)->sequence, (*earlier)->kind, (*earlier)->refers_to, true};
    }
  }
  if (!doc.is_object()) return Status(E::INVALID_ARGUMENT, "the request body must be one JSON object");
  if (!looks_like_ninjs(doc)) {
    // A correction or retraction amends the latest version of the item the
    // event it names belongs to; what a correction leaves out is taken from
    // that version (send "" or [] to clear a field). Only events this node
    // published can be amended.
    json form = doc;
    const std::string kind = form.contains("kind") && form["kind"].is_string() ? form["kind"].get<std::string>() : "";
    const bool amends = kind == "correction" || kind == "retraction";
    if (amends && form.contains("refers_to") && form["refers_to"].is_string()) {
      auto id = from_hex(form["refers_to"].get<std::string>());
      if (id && id->size() == 32) {
        auto latest = latest_version(*id, "refers_to");
        if (!latest) return latest.status();
        form["refers_to"] = latest->value("id", form["refers_to"].get<std::string>());
        const json& before = (*latest).contains("event") ? (*latest)["event"] : json::object();
        static const std::vector<std::string> kKept = {
            "topic",    "headline", "summary",  "body",   "body_type",       "subjects", "attachments",
            "language", "urgency",  "link",     "byline", "content_created", "expires"};
        static const std::vector<std::string> kKeptOnRetraction = {"topic", "headline", "language", "urgency"};
        for (const std::string& key : kind == "correction" ? kKept : kKeptOnRetraction) {
          if (!form.contains(key) && before.contains(key)) form[key] = before[key];
        }
        if (kind == "correction" && !before.empty()) {
          bool changes = false;
          for (const std::string& key : kKept) {
            const json none = nullptr;
            const json& now = form.contains(key) ? form[key] : none;
            const json& was = before.contains(key) ? before[key] : none;
            const bool empty_now = now.is_null() || (now.is_string() && now.get<std::string>().empty()) ||
                                   (now.is_array() && now.empty());
            changes = changes || (now != was && !(empty_now && was.is_null()));
          }
          if (!changes) {
            return Status(E::INVALID_ARGUMENT, "field \"kind\": this correction changes nothing in the version it "
                                               "corrects (event " + latest->value("id", "") + "): send what changes");
          }
        }
      }
    }
    auto event = event_from_json_form(form, config_.member, topic);
    if (!event) return event.status();
    return publish_event(std::move(*event), "", idempotency);
  }
  if (topic.empty()) {
    return Status(E::INVALID_TOPIC, "field \"topic\" is required: a ninjs document is posted with ?topic=");
  }
  // A uri seen before: this is its next version.
  const std::string uri = doc.contains("uri") && doc["uri"].is_string() ? doc["uri"].get<std::string>() : "";
  std::string previous, previous_headline;
  if (!uri.empty()) {
    auto latest = store_->latest_for_item(uri);
    if (!latest) return latest.status();
    previous = *latest;
    const std::string own = "urn:lantoa:" + config_.member + ":";
    if (previous.empty() && uri.starts_with(own)) {  // an item first published in Lantoa's form
      auto id = from_hex(uri.substr(own.size()));
      if (!id || id->size() != 32) return Status(E::INVALID_ARGUMENT, "field \"uri\" is not a Lantoa item uri");
      previous = *id;
    }
    if (!previous.empty()) {
      auto before = latest_version(previous, "uri");
      if (!before) return before.status();
      previous = *from_hex(before->value("id", to_hex(previous)));
      if (before->contains("event")) previous_headline = (*before)["event"].value("headline", "");
    }
  }
  auto event = from_ninjs(doc, config_.member, topic, previous, previous_headline);
  if (!event) return event.status();
  return publish_event(std::move(*event), uri, idempotency);
}

json Node::status() const {
  json deliveries = json::array();
  for (const auto& d : deliveries_) deliveries.push_back(d->status());
  json subscriptions = json::array();
  size_t open = 0;
  for (const auto& r : receivers_) {
    subscriptions.push_back(r->status());
    open += r->open();
  }
  json feeds = json::array();
  for (const auto& f : feeds_) {
    FeedStats s = f->stats();
    feeds.push_back({{"name", f->config().name},
                     {"url", f->config().url},
                     {"fetches", s.fetches},
                     {"not_modified", s.not_modified},
                     {"published", s.published},
                     {"corrections", s.corrections},
                     {"unchanged", s.unchanged},
                     {"failures", s.failures},
                     {"last_error", s.last_error}});
  }
  auto refused_count = store_->refused_count();
  return {{"member", config_.member},
          {"broker",
           {{"endpoint", broker_.endpoint},
            {"connected", publisher_ && publisher_->connected()},
            {"reason", publisher_ ? publisher_->down_reason() : std::string()}}},
          {"outbox", {{"unconfirmed", publisher_ ? publisher_->unconfirmed() : 0},
                      {"last_sequence", publisher_ ? publisher_->last_sequence() : 0}}},
          {"inbox", {{"received", counters_.received.load()}, {"rejected", counters_.rejected.load()},
                     {"sanitized", counters_.sanitized.load()}, {"refused", refused_count ? *refused_count : 0}}},
          {"subscriptions", {{"configured", receivers_.size()}, {"open", open}, {"list", subscriptions}}},
          {"problems", problems()},
          {"deliveries", deliveries},
          {"feeds", feeds}};
}

Result<NodeFigures> Node::figures() const {
  NodeFigures f;
  auto store = store_->figures();
  if (!store) return store.status();
  f.store = *store;
  f.now_ms = unix_now_ms();
  f.broker_connected = publisher_ && publisher_->connected();
  f.problems = problems().size();
  if (publisher_) f.outbox = publisher_->stats();
  f.received = counters_.received.load();
  f.received_rejected = counters_.rejected.load();
  f.sanitized = counters_.sanitized.load();
  for (const auto& r : receivers_) f.subscriptions.push_back({r->name(), r->open(), !r->problem().empty()});
  for (const auto& d : deliveries_) f.deliveries.push_back(d->figures());
  for (const auto& p : feeds_) f.feeds.push_back({p->config().name, p->stats()});
  return f;
}

std::vector<std::string> Node::problems() const {
  std::vector<std::string> out;
  // A broker that cannot be reached may come back by itself; a wrong broker
  // key or a refused certificate will not: that needs someone.
  if (publisher_) {
    const std::string why = publisher_->down_reason();
    for (const char* lasting : {"is not that broker's", "refused this connection", "PERMISSION_DENIED", "CERT_",
                                "ROLE_MISSING"}) {
      if (why.find(lasting) != std::string::npos) {
        out.push_back("broker " + broker_.endpoint + ": " + why);
        break;
      }
    }
  }
  for (const auto& r : receivers_) {
    if (std::string p = r->problem(); !p.empty()) out.push_back("subscription " + r->name() + ": " + p);
  }
  return out;
}

}  // namespace lantoa::node
