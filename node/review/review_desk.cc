#include "review/review_desk.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include "lantoa/encoding.h"
#include "lantoa/event.h"
#include "lantoa/names.h"

namespace lantoa::node {
namespace {

using nlohmann::json;
using E = v1::Error;

constexpr size_t kMaxTextBytes = 64 * 1024;

Result<std::string> item_id_of(const std::string& hex, const std::string& field = "id") {
  auto id = from_hex(hex);
  if (!id || id->size() != 32) {
    return Status(E::INVALID_ARGUMENT, "field \"" + field + "\": an id is 64 hexadecimal digits");
  }
  return *id;
}

// The headline of an answer: what it says, then what it answers (at most 512
// characters; cut on a character boundary).
std::string answer_headline(const std::string& says, const std::string& about) {
  std::string h = about.empty() ? says : says + ": " + about;
  size_t chars = 0, i = 0;
  for (; i < h.size(); ++i) {
    if ((static_cast<unsigned char>(h[i]) & 0xC0) != 0x80 && ++chars > 500) break;
  }
  return h.substr(0, i);
}

std::string code_label(v1::ReplyCode code) {
  switch (code) {
    case v1::ACCEPTED: return "Accepted";
    case v1::REJECTED: return "Rejected";
    case v1::CHANGES_REQUESTED: return "Changes requested";
    case v1::SEEN: return "Seen";
    default: return "Feedback";
  }
}

std::string digest_hex(std::string_view text) {
  unsigned char out[16];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(text.data()), text.size(), nullptr, 0);
  return to_hex(std::string_view(reinterpret_cast<const char*>(out), sizeof out));
}

Result<std::string> text_of(const json& request, bool required) {
  if (!request.contains("text")) {
    if (required) return Status(E::INVALID_ARGUMENT, "field \"text\" is required: say why, for the proposer");
    return std::string();
  }
  if (!request["text"].is_string()) return Status(E::INVALID_ARGUMENT, "field \"text\" must be a string");
  std::string text = request["text"].get<std::string>();
  if (required && text.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Status(E::INVALID_ARGUMENT, "field \"text\" is empty: say why, for the proposer");
  }
  if (text.size() > kMaxTextBytes) return Status(E::INVALID_ARGUMENT, "field \"text\" is longer than 64 KiB");
  return text;
}

json history_entry(const std::string& action, const std::string& by, const std::string& event_id) {
  return {{"action", action},
          {"by", by},
          {"at", format_time_ms(unix_now_ms())},
          {"event_id", to_hex(event_id)},
          {"signature", "verified"}};
}

json summary(const json& p) {
  json s = {{"id", p.value("id", "")},         {"state", p.value("state", "")},
            {"proposer", p.value("proposer", "")}, {"headline", p.value("headline", "")},
            {"urgency", p.value("urgency", 5)},  {"version", p.value("version", 1)},
            {"latest", p.value("latest", "")},   {"proposed", p.value("proposed", "")},
            {"received", p.value("received", "")}};
  if (auto at = parse_time_ms(p.value("received", ""))) s["age_seconds"] = (unix_now_ms() - *at) / 1000;
  return s;
}

}  // namespace

Status ReviewDesk::need_editor(const std::string& act) const {
  if (editor_) return Status::Ok();
  return Status(E::ROLE_MISSING, "\"" + member_ + "\" is not certified as an editor: only editors " +
                                     act + " (its certificate needs the editor role)");
}

Result<std::string> ReviewDesk::send_reply(const std::string& origin, const std::string& to_event, v1::ReplyCode code,
                                           const std::string& headline, const std::string& text,
                                           const std::string& key) {
  auto event = EventBuilder(member_, 1, inbox_topic(origin, member_))
                   .kind(v1::REPLY)
                   .reply_code(code)
                   .refers_to(to_event)
                   .headline(answer_headline(code_label(code), headline))
                   .body(text)
                   .build();
  if (!event) return event.status();
  return publish_(std::move(*event), "", Idempotency{key, ""});
}

Result<std::string> ReviewDesk::send_endorsement(const std::string& version_id, const std::string& topic,
                                                 uint32_t urgency, const std::string& key, const std::string& item_uri) {
  auto envelope = store_.proposal_envelope(version_id);
  if (!envelope) return envelope.status();
  if (envelope->empty()) {
    return Status(E::INVALID_CARRIED_EVENT, "the signed proposal " + to_hex(version_id) +
                                                " (with its author's certificate chain) is not kept: it cannot be carried");
  }
  auto original = parse_signed_event(*envelope);
  if (!original) return original.status();
  auto decoded = decode_event(*original);
  if (!decoded) return decoded.status();
  const v1::Event& o = decoded->event;
  EventBuilder b(member_, 1, topic);
  b.kind(v1::ENDORSEMENT).refers_to(version_id).carried_event(*envelope).urgency(urgency ? urgency : o.urgency());
  b.headline(o.headline().empty() ? "Endorsed" : o.headline()).language(o.language());
  if (o.expires_ms() > unix_now_ms()) b.expires_ms(o.expires_ms());
  auto event = b.build();
  if (!event) return event.status();
  return publish_(std::move(*event), item_uri, Idempotency{key, ""});
}

Result<json> ReviewDesk::undecided(const std::string& item_id) {
  const std::string hex = to_hex(item_id);
  auto p = store_.proposal(item_id);
  if (!p) return p.status();
  if (!*p) return Status(E::NOT_FOUND, "no proposal " + hex + " was made to this portal");
  const std::string state = (**p).value("state", "");
  if (state == "withdrawn") return Status(E::INVALID_REFERENCE, "proposal " + hex + " was withdrawn by its author");
  if (state == "endorsed") {
    return Status(E::ALREADY_EXISTS, "proposal " + hex + " is endorsed already (event " +
                                         (**p)["endorsements"].back().value("id", "") +
                                         "): its receivers have it; the author may retract it, and the retraction "
                                         "follows");
  }
  return std::move(**p);
}

Result<json> ReviewDesk::list(const std::string& state, size_t offset, size_t limit) {
  static const std::vector<std::string> kStates = {"", "pending", "endorsed", "rejected", "changes_requested",
                                                   "withdrawn"};
  if (std::find(kStates.begin(), kStates.end(), state) == kStates.end()) {
    return Status(E::INVALID_ARGUMENT, "field \"state\": one of pending, endorsed, rejected, changes_requested, "
                                       "withdrawn (or none: all)");
  }
  auto all = store_.proposals(state);
  if (!all) return all.status();
  json out = json::array();
  for (size_t i = offset; i < all->size() && out.size() < limit; ++i) out.push_back(summary((*all)[i]));
  return json{{"proposals", out}, {"total", all->size()}, {"offset", offset}};
}

Result<json> ReviewDesk::show(const std::string& item_hex) {
  auto item = item_id_of(item_hex);
  if (!item) return item.status();
  std::lock_guard lock(mu_);
  auto p = store_.proposal(*item);
  if (!p) return p.status();
  if (!*p) return Status(E::NOT_FOUND, "no proposal " + item_hex + " was made to this portal");
  json& proposal = **p;
  bool seen = false;
  for (const json& h : proposal["history"]) seen = seen || h.value("action", "") == "seen";
  const std::string state = proposal.value("state", "");
  if (!seen && (state == "pending" || state == "changes_requested")) {  // not after a decision
    auto latest = from_hex(proposal.value("latest", ""));
    auto reply = send_reply(proposal.value("proposer", ""), latest ? *latest : *item, v1::SEEN,
                            proposal.value("headline", ""), "", "review:" + item_hex + ":seen");
    if (!reply) return reply.status();
    json entry = history_entry("seen", member_, *reply);
    LANTOA_RETURN_IF_ERROR(store_.update_proposal(*item, [&](json& q) {
      q["history"].push_back(entry);
      return Status::Ok();
    }));
    proposal["history"].push_back(entry);
  }
  if (auto latest = from_hex(proposal.value("latest", ""))) {
    auto rec = store_.received(*latest);
    if (!rec) return rec.status();
    if (*rec) proposal["event"] = std::move(**rec);
  }
  proposal.erase("follow");
  return proposal;
}

Result<json> ReviewDesk::endorse(const std::string& item_hex, const json& request) {
  LANTOA_RETURN_IF_ERROR(need_editor("endorse proposals"));
  auto item = item_id_of(item_hex);
  if (!item) return item.status();
  if (!request.is_object()) return Status(E::INVALID_ARGUMENT, "the request body must be one JSON object");
  std::string topic = endorse_topic_;
  if (request.contains("topic")) {
    if (!request["topic"].is_string()) return Status(E::INVALID_ARGUMENT, "field \"topic\" must be a string");
    topic = request["topic"].get<std::string>();
  }
  if (topic.empty()) {
    return Status(E::INVALID_TOPIC, "field \"topic\" is required (where the endorsement goes; [review] "
                                    "endorse_topic gives a default)");
  }
  if (Status st = validate_topic(topic); !st.ok()) return st;
  if (Status st = check_publish_topic(member_, topic); !st.ok()) return st;
  if (inbox_address(topic)) return Status(E::INVALID_TOPIC, "field \"topic\": an endorsement goes on a topic of "
                                                            "this portal, not in an inbox");
  uint32_t urgency = 0;
  if (request.contains("urgency")) {
    if (!request["urgency"].is_number_unsigned() || request["urgency"].get<uint64_t>() < 1 ||
        request["urgency"].get<uint64_t>() > 9) {
      return Status(E::URGENCY_OUT_OF_RANGE, "field \"urgency\" must be 1 (flash) .. 9");
    }
    urgency = static_cast<uint32_t>(request["urgency"].get<uint64_t>());
  }
  auto text = text_of(request, false);
  if (!text) return text.status();
  std::lock_guard lock(mu_);
  auto p = undecided(*item);
  if (!p) return p.status();
  const json& proposal = *p;
  auto latest = from_hex(proposal.value("latest", ""));
  if (!latest) return Status(E::STORAGE_ERROR, "proposal " + item_hex + " names no version");
  const std::string latest_hex = to_hex(*latest);
  auto endorsement =
      send_endorsement(*latest, topic, urgency, "review:" + item_hex + ":endorse:" + latest_hex + ":" + topic);
  if (!endorsement) return endorsement.status();
  std::string note = "Endorsed on " + topic + " (event " + to_hex(*endorsement) + ")";
  if (!text->empty()) note = *text + "\n\n" + note;
  auto reply = send_reply(proposal.value("proposer", ""), *latest, v1::ACCEPTED, proposal.value("headline", ""), note,
                          "review:" + item_hex + ":accepted:" + latest_hex);
  if (!reply) return reply.status();
  const std::string member = member_;
  bool changed_meanwhile = false;
  LANTOA_RETURN_IF_ERROR(store_.update_proposal(*item, [&](json& q) {
    for (const json& h : q["history"]) {
      if (h.value("event_id", "") == to_hex(*endorsement)) return Status::Ok();  // a repeat: recorded already
    }
    // Versions that arrived while this was decided follow the endorsement
    // (a retraction among them withdraws it).
    bool after = false;
    for (const json& v : q["versions"]) {
      if (after && v.is_string()) {
        q["follow"].push_back(v);
        changed_meanwhile = true;
      }
      after = after || v == latest_hex;
    }
    q["state"] = q.value("state", "") == "withdrawn" ? "withdrawn" : "endorsed";
    q["endorsements"].push_back({{"id", to_hex(*endorsement)}, {"topic", topic}, {"carries", latest_hex}});
    json entry = history_entry("endorsed", member, *endorsement);
    entry["topic"] = topic;
    entry["reply_id"] = to_hex(*reply);
    if (!text->empty()) entry["text"] = *text;
    q["history"].push_back(entry);
    return Status::Ok();
  }));
  spdlog::info("review: proposal {} of {} endorsed on {} as event {}", item_hex, proposal.value("proposer", ""), topic,
               to_hex(*endorsement));
  if (changed_meanwhile) follow_up_locked();
  return json{{"id", item_hex},
              {"state", "endorsed"},
              {"endorsement", {{"id", to_hex(*endorsement)}, {"topic", topic}}},
              {"reply", to_hex(*reply)}};
}

Result<json> ReviewDesk::reject(const std::string& item_hex, const json& request) {
  LANTOA_RETURN_IF_ERROR(need_editor("decide on proposals"));
  auto item = item_id_of(item_hex);
  if (!item) return item.status();
  if (!request.is_object()) return Status(E::INVALID_ARGUMENT, "the request body must be one JSON object");
  const std::string reason = request.contains("reason") && request["reason"].is_string()
                                 ? request["reason"].get<std::string>()
                                 : std::string("rejected");
  if (reason != "rejected" && reason != "changes_requested") {
    return Status(E::INVALID_ARGUMENT, "field \"reason\": rejected or changes_requested");
  }
  auto text = text_of(request, true);
  if (!text) return text.status();
  std::lock_guard lock(mu_);
  auto p = undecided(*item);
  if (!p) return p.status();
  const json& proposal = *p;
  auto latest = from_hex(proposal.value("latest", ""));
  if (!latest) return Status(E::STORAGE_ERROR, "proposal " + item_hex + " names no version");
  const v1::ReplyCode code = reason == "rejected" ? v1::REJECTED : v1::CHANGES_REQUESTED;
  auto reply = send_reply(proposal.value("proposer", ""), *latest, code, proposal.value("headline", ""), *text,
                          "review:" + item_hex + ":" + reason + ":" + to_hex(*latest) + ":" + digest_hex(*text));
  if (!reply) return reply.status();
  const std::string member = member_;
  LANTOA_RETURN_IF_ERROR(store_.update_proposal(*item, [&](json& q) {
    for (const json& h : q["history"]) {
      if (h.value("event_id", "") == to_hex(*reply)) return Status::Ok();  // a repeat: recorded already
    }
    // A version that arrived meanwhile waits for its own decision.
    if (q.value("latest", "") == to_hex(*latest) && q.value("state", "") != "withdrawn") q["state"] = reason;
    json entry = history_entry(reason, member, *reply);
    entry["text"] = *text;
    q["history"].push_back(entry);
    return Status::Ok();
  }));
  spdlog::info("review: proposal {} of {}: {} (event {})", item_hex, proposal.value("proposer", ""), reason,
               to_hex(*reply));
  return json{{"id", item_hex}, {"state", reason}, {"reply", to_hex(*reply)}};
}

Result<json> ReviewDesk::reply(const std::string& event_hex, const json& request) {
  auto id = item_id_of(event_hex);
  if (!id) return id.status();
  if (!request.is_object()) return Status(E::INVALID_ARGUMENT, "the request body must be one JSON object");
  const std::string code = request.contains("code") && request["code"].is_string() ? request["code"].get<std::string>()
                                                                                   : std::string("feedback");
  if (code != "feedback") {
    return Status(E::INVALID_ARGUMENT, "field \"code\": feedback (a reviewer decides on a proposal with "
                                       "POST /v1/review/{id}/endorse or /reject)");
  }
  auto text = text_of(request, true);
  if (!text) return text.status();
  auto rec = store_.received(*id);
  if (!rec) return rec.status();
  if (!*rec) return Status(E::NOT_FOUND, "no event " + event_hex + " in the inbox: answer what this portal received");
  const json& meta = (**rec)["lantoa"];
  const std::string origin = meta.value("origin", "");
  if (origin == member_) return Status(E::INVALID_ARGUMENT, "event " + event_hex + " is this portal's own");
  const json& doc = (**rec)["ninjs"];
  const std::string about = doc.contains("headlines") && doc["headlines"].is_array() && !doc["headlines"].empty() &&
                                    doc["headlines"][0].is_object()
                                ? doc["headlines"][0].value("value", "")
                                : std::string();
  auto reply = send_reply(origin, *id, v1::FEEDBACK, about, *text,
                          "reply:" + event_hex + ":" + digest_hex(*text));
  if (!reply) return reply.status();
  return json{{"id", to_hex(*reply)}, {"to", origin}, {"refers_to", event_hex}, {"code", "feedback"}};
}

void ReviewDesk::follow_up() {
  std::lock_guard lock(mu_);
  follow_up_locked();
}

void ReviewDesk::follow_up_locked() {
  auto items = store_.follow_ups();
  if (!items) {
    spdlog::error("review: cannot read the follow-ups: {}", items.status().to_string());
    return;
  }
  for (const std::string& item : *items) {
    auto p = store_.proposal(item);
    if (!p || !*p) continue;
    const json proposal = **p;
    if (proposal["endorsements"].empty()) continue;
    const std::string topic = proposal["endorsements"].back().value("topic", endorse_topic_);
    for (const json& version : proposal["follow"]) {
      auto id = from_hex(version.get<std::string>());
      if (!id) continue;
      auto first = from_hex(proposal["endorsements"][0].value("id", ""));
      auto endorsement = send_endorsement(*id, topic, 0, "review:" + to_hex(item) + ":follow:" + to_hex(*id),
                                          first ? "urn:lantoa:" + member_ + ":" + to_hex(*first) : "");
      if (!endorsement) {
        spdlog::error("review: the new version {} of endorsed proposal {} is not endorsed yet: {} (tried again at "
                      "the next start or change)",
                      to_hex(*id), to_hex(item), endorsement.status().to_string());
        continue;
      }
      const std::string member = member_;
      Status st = store_.update_proposal(item, [&](json& q) {
        json rest = json::array();
        for (const json& f : q["follow"]) {
          if (f != version) rest.push_back(f);
        }
        q["follow"] = rest;
        q["endorsements"].push_back({{"id", to_hex(*endorsement)}, {"topic", topic}, {"carries", to_hex(*id)}});
        json entry = history_entry("followed", member, *endorsement);
        entry["carries"] = to_hex(*id);
        q["history"].push_back(entry);
        return Status::Ok();
      });
      if (!st.ok()) spdlog::error("review: {}", st.to_string());
      else spdlog::info("review: the author's change {} of endorsed proposal {} endorsed as {}", to_hex(*id),
                        to_hex(item), to_hex(*endorsement));
    }
  }
}

Status ReviewDesk::annotate(json& published) {
  auto id = from_hex(published.value("item", published.value("id", "")));
  if (!id) return Status::Ok();
  // The answers to every version of the item, oldest first.
  json replies = json::array();
  auto own = store_.replies_to(*id);
  if (!own) return own.status();
  for (auto& r : *own) replies.push_back(std::move(r));
  published["replies"] = replies;
  auto inbox = inbox_address(published.value("topic", ""));
  const std::string kind = published.value("kind", "");
  if (!inbox || (kind != "news" && kind != "correction" && kind != "retraction")) return Status::Ok();
  // A proposal: its history, from the proposal and the reviewer's signed
  // answers (another portal's answer is listed in replies, never a decision).
  json history = json::array();
  history.push_back({{"action", "proposed"}, {"by", member_}, {"event_id", published.value("id", "")}});
  std::string state = "proposed";
  for (const json& r : replies) {
    if (r.value("from", "") != inbox->recipient) continue;
    const std::string code = r.value("code", "");
    json entry = {{"action", code},          {"by", r.value("from", "")}, {"at", r.value("created", "")},
                  {"event_id", r.value("id", "")}, {"signature", "verified"}};
    if (!r.value("text", "").empty()) entry["text"] = r["text"];
    history.push_back(entry);
    if (code == "accepted") state = "endorsed";
    else if (code == "rejected" || code == "changes_requested") state = code;
    else if (code == "seen" && state == "proposed") state = "seen";
  }
  published["review"] = {{"reviewer", inbox->recipient}, {"state", state}, {"history", history}};
  return Status::Ok();
}

}  // namespace lantoa::node
