#include "feeds/feed_poller.h"

#include <curl/curl.h>
#include <nlohmann/json.hpp>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include "lantoa/encoding.h"
#include "lantoa/event.h"

namespace lantoa::node {
namespace {

using E = v1::Error;
constexpr size_t kMaxFeedBytes = 16u << 20;

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  if (out->size() + size * n > kMaxFeedBytes) return 0;  // curl reports a write error
  out->append(data, size * n);
  return size * n;
}

// libcurl opens every connection through this: the resolved address is
// judged before anything is sent to it.
struct SocketGuard {
  const DestinationPolicy* policy;
  std::string refused;  // the first refusal, for the error
};

curl_socket_t open_socket(void* user, curlsocktype purpose, curl_sockaddr* address) {
  auto* guard = static_cast<SocketGuard*>(user);
  if (purpose == CURLSOCKTYPE_IPCXN) {
    if (auto why = guard->policy->refuse(&address->addr)) {
      if (guard->refused.empty()) guard->refused = *why;
      return CURL_SOCKET_BAD;
    }
  }
  return ::socket(address->family, address->socktype, address->protocol);
}

constexpr int kDigestVersion = 2;  // content_digest's form (NFC)

bool is_web_url(const std::string& u) { return u.starts_with("http://") || u.starts_with("https://"); }

// A digest of what the CMS would see change, after Unicode NFC
// normalisation: the same text spelled in NFD is no change.
std::string content_digest(const FeedItem& item) {
  std::string all = item.title + '\x1f' + item.link + '\x1f' + item.summary + '\x1f' + item.body + '\x1f' + item.author;
  for (const auto& c : item.categories) all += '\x1f' + c.code();
  for (const auto& a : item.enclosures) all += '\x1f' + a.uri();
  all = to_nfc(all);
  unsigned char hash[crypto_generichash_BYTES];
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(all.data()), all.size(), nullptr, 0);
  return to_hex(std::string_view(reinterpret_cast<const char*>(hash), sizeof hash));
}

}  // namespace

Result<FetchResult> fetch_feed(const std::string& url, const std::string& etag, const std::string& last_modified,
                               std::chrono::milliseconds timeout, const DestinationPolicy& policy) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return Status(E::INTERNAL, "cannot start libcurl");
  FetchResult r;
  curl_slist* headers = nullptr;
  if (!etag.empty()) headers = curl_slist_append(headers, ("If-None-Match: " + etag).c_str());
  if (!last_modified.empty()) headers = curl_slist_append(headers, ("If-Modified-Since: " + last_modified).c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers, curl_slist_free_all);
  char error[CURL_ERROR_SIZE] = {0};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<int64_t>(timeout.count(), 10000)));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // whatever libcurl can decode
  curl_easy_setopt(c, CURLOPT_USERAGENT, "lantoa-node/0.1 (feed adapter)");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  SocketGuard guard{&policy, {}};
  curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &guard);
  curl_easy_setopt(c, CURLOPT_PROXY, "");  // no proxy from the environment: the guard must see the feed's address
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK && !guard.refused.empty()) {
    char* last = nullptr;
    curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &last);
    return Status(E::PERMISSION_DENIED,
                  url + ": refused to connect to " + (last ? std::string(last) : url) + ": " + guard.refused +
                      "; feeds may not reach private networks unless this feed allows it (allow_private = true "
                      "or allow_networks in its [[feeds]] settings)");
  }
  if (rc != CURLE_OK) {
    return Status(E::UNAVAILABLE, url + ": " + (error[0] ? std::string(error) : curl_easy_strerror(rc)));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.http_status);
  // Validators of the last response (after redirects), for the next fetch.
  auto header = [c](const char* name) -> std::string {
    curl_header* h = nullptr;
    if (curl_easy_header(c, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h || !h->value) return {};
    return h->value;
  };
  r.etag = header("ETag");
  r.last_modified = header("Last-Modified");
  if (r.http_status != 200 && r.http_status != 304) {
    return Status(E::UNAVAILABLE, url + " answered HTTP " + std::to_string(r.http_status));
  }
  return r;
}

FeedPoller::FeedPoller(FeedConfig config, std::string member, NodeStore& store, PublishFn publish)
    : config_(std::move(config)), member_(std::move(member)), store_(store), publish_(std::move(publish)) {
  thread_ = std::thread([this] { run(); });
}

FeedPoller::~FeedPoller() { stop(); }

void FeedPoller::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

FeedStats FeedPoller::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

Result<v1::Event> FeedPoller::to_event(const FeedItem& item, v1::Kind kind, const std::string& refers_to) const {
  EventBuilder b(member_, 1, config_.topic);
  std::string headline = item.title.empty() ? item.summary.substr(0, 300) : item.title;
  while (!headline.empty() && !is_valid_utf8(headline)) headline.pop_back();
  b.headline(headline).summary(item.summary).urgency(config_.urgency).kind(kind);
  if (!item.body.empty()) b.body(item.body, item.body_html ? "text/html" : "text/plain");
  if (is_web_url(item.link)) b.link(item.link);
  if (!item.author.empty()) b.byline(item.author.substr(0, 200));
  for (const auto& c : item.categories) b.subject(c.code().substr(0, 256), c.name().substr(0, 256));
  for (const auto& a : item.enclosures) {
    if (is_web_url(a.uri())) b.attachment(a);
  }
  if (kind != v1::NEWS) b.refers_to(refers_to);
  // The feed's own identity of the item travels too: receivers find it in
  // the ninjs document's altIds (role "guid"), beside the canonical link.
  if (!item.guid.empty()) {
    nlohmann::json alt_ids = nlohmann::json::array({{{"role", "guid"}, {"value", item.guid}}});
    if (is_web_url(item.link)) alt_ids.push_back({{"role", "canonical-url"}, {"value", item.link}});
    b.ninjs(nlohmann::json{{"altIds", alt_ids}}.dump());
  }
  // The event is made now (its signer's certificate vouches for now); the
  // item's own date, when not in the future, is kept as content_created.
  const int64_t now = unix_now_ms();
  b.created_ms(now);
  if (item.published_ms && *item.published_ms >= 0 && *item.published_ms <= now) b.content_created_ms(*item.published_ms);
  const std::string language = !config_.language.empty() ? config_.language
                               : item.language.empty()    ? std::string("vi")
                                                          : item.language;
  b.language(language);
  auto event = b.build();
  if (!event && event.status().code() == E::INVALID_LANGUAGE) return b.language("vi").build();
  return event;
}

Status FeedPoller::poll_once() {
  Status s = poll();
  std::lock_guard lock(mu_);
  ++stats_.polls;
  stats_.last_poll_ms = unix_now_ms();
  stats_.last_poll_ok = s.ok();
  if (!s.ok()) ++stats_.failed_polls;
  return s;
}

Status FeedPoller::poll() {
  auto state = store_.feed_state("feed\n" + config_.name);
  if (!state) return state.status();
  auto fetched = fetch_feed(config_.url, state->value("etag", ""), state->value("last_modified", ""),
                            std::chrono::milliseconds(30000), config_.destinations);
  auto failed = [&](const Status& s) {
    std::lock_guard lock(mu_);
    ++stats_.failures;
    stats_.last_error = s.to_string();
    return s;
  };
  if (!fetched) return failed(fetched.status());
  {
    std::lock_guard lock(mu_);
    ++stats_.fetches;
    if (fetched->http_status == 304) ++stats_.not_modified;
  }
  if (fetched->http_status == 304) return Status::Ok();
  auto feed = parse_feed(fetched->body);
  if (!feed) return failed(Status(feed.status().code(), config_.url + ": " + feed.status().message()));
  for (auto it = feed->items.rbegin(); it != feed->items.rend() && !stopping_; ++it) {
    const FeedItem& item = *it;
    const std::string key = "item\n" + config_.name + "\n" + item.key;
    auto known = store_.feed_state(key);
    if (!known) return failed(known.status());
    const std::string digest = content_digest(item);
    // Items remembered before digests were taken after NFC (and before the
    // description stopped doubling as the body) have no "v": their new
    // digest is adopted once, without publishing them again.
    const bool adopt = known->contains("event_id") && !known->contains("v");
    if (known->value("digest", "") == digest || adopt) {
      if (adopt) {
        LANTOA_RETURN_IF_ERROR(store_.set_feed_state(
            key, {{"event_id", known->value("event_id", "")}, {"digest", digest}, {"v", kDigestVersion}}));
      }
      std::lock_guard lock(mu_);
      ++stats_.unchanged;
      continue;
    }
    const std::string previous = known->value("event_id", "");
    const std::string previous_id = from_hex(previous).value_or("");
    const v1::Kind kind = previous_id.size() == 32 ? v1::CORRECTION : v1::NEWS;
    auto event = to_event(item, kind, previous_id);
    if (!event) {
      spdlog::warn("feed {}: item {} skipped: {}", config_.name, item.key, event.status().to_string());
      (void)failed(event.status());
      std::lock_guard lock(mu_);
      ++stats_.skipped;
      continue;
    }
    auto id = publish_(std::move(*event));
    if (!id) return failed(id.status());
    LANTOA_RETURN_IF_ERROR(
        store_.set_feed_state(key, {{"event_id", to_hex(*id)}, {"digest", digest}, {"v", kDigestVersion}}));
    spdlog::info("feed {}: {} {} as {}", config_.name, kind == v1::NEWS ? "published" : "corrected", item.key,
                 to_hex(*id));
    std::lock_guard lock(mu_);
    ++(kind == v1::NEWS ? stats_.published : stats_.corrections);
  }
  // Validators only once every item is safely handed over.
  return store_.set_feed_state("feed\n" + config_.name,
                               {{"etag", fetched->etag}, {"last_modified", fetched->last_modified}});
}

void FeedPoller::run() {
  while (!stopping_) {
    Status s = poll_once();
    if (!s.ok()) spdlog::warn("feed {}: {}", config_.name, s.to_string());
    const auto until = std::chrono::steady_clock::now() + config_.interval;
    while (!stopping_ && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

}  // namespace lantoa::node
