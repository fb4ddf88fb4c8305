// The configuration of lantoa-node: one TOML file. Relative paths are read
// from the file's folder. Example (node/lantoa-node.example.toml and node/README.md
// have the full reference):
//
//   member = "vn.qn"                  # the portal's member id
//   key = "vn.qn.key"                 # its secret key file (0600)
//   chain = "vn.qn.chain"             # its certificate chain
//   root = "vn.root.pub"              # the root authority's public key
//   data = "/var/lib/lantoa-node"     # LMDB state: outbox, inbox, progress
//
//   [broker]
//   endpoint = "tcp://broker.example:7450"
//   key = "<base64url>"               # or the path of a broker.ready.json
//
//   [api]
//   listen = "127.0.0.1:8470"         # port 0: any free port
//   token_file = "api.token"          # bearer token (0600), one line
//   feed_secret_file = "feed.secret"  # optional (0600): the key of the feed URLs
//   max_body_bytes = 2097152
//
//   [[subscriptions]]
//   name = "qn-inbound"
//   filters = ["vn.gov.press", "vn.*.notice"]
//   start = "earliest"                # earliest, new, seq:N or a time
//
//   [[webhooks]]
//   name = "cms"
//   url = "http://127.0.0.1:8080/lantoa/receive"
//   token = "..."                     # optional: sent as Authorization: Bearer
//   topics = ["vn.gov.>"]             # optional: only events these filters match
//
//   [spool]
//   dir = "/var/spool/lantoa"
//   mode = "0640"                     # of each file written (octal)
//
//   [[feeds]]
//   name = "portal-rss"
//   url = "https://portal.example/rss"
//   topic = "vn.qn.news"
//   interval_seconds = 60
//   allow_private = false             # true: may fetch from private addresses
//   allow_networks = ["10.20.0.5"]    # or only these private addresses/CIDRs
//
//   [review]
//   inbox = true                      # proposals to review, answers to what it published
//   endorse_topic = "vn.gov.press"    # where endorsements go by default
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "feeds/destination.h"
#include "lantoa/status.h"
#include "lantoa/v1/wire.pb.h"

namespace lantoa::node {

// The subscription to the portal's own inbox ("<member>.$inbox.>", [review]).
inline constexpr const char* kInboxSubscription = "inbox";

struct SubscriptionConfig {
  std::string name;
  std::vector<std::string> filters;
  v1::StartPosition start;
};

struct WebhookConfig {
  std::string name;
  std::string url;
  std::string token;
  std::vector<std::string> topics;  // topic filters; empty: every event
  std::chrono::milliseconds timeout{10000};
  std::chrono::milliseconds max_backoff{60000};
};

struct FeedConfig {
  std::string name;
  std::string url;
  std::string topic;
  std::chrono::seconds interval{60};
  uint32_t urgency = 5;
  std::string language;  // empty: the feed's own, else "vi"
  // Private destinations (loopback, RFC 1918...) are refused unless allowed:
  // allow_private = true, or allow_networks = ["10.20.0.0/16", ...].
  DestinationPolicy destinations;
};

struct NodeConfig {
  std::string member;
  std::filesystem::path key, chain, root, data;
  std::string broker_endpoint, broker_key;
  // [[broker.failover]]: mirrors of the broker (docs/high-availability.md),
  // each an endpoint and a key as for [broker]; tried in turn when the
  // broker is lost or cannot be reached.
  std::vector<std::pair<std::string, std::string>> broker_failover;
  std::string api_host = "127.0.0.1";
  int api_port = 8470;
  std::filesystem::path token_file;
  std::filesystem::path feed_secret_file;  // empty: feed URLs keyed by the API token
  size_t max_body_bytes = 2u << 20;
  std::vector<SubscriptionConfig> subscriptions;
  std::vector<WebhookConfig> webhooks;
  std::filesystem::path spool;
  mode_t spool_mode = 0640;
  std::vector<FeedConfig> feeds;
  // [review] (review/review_desk.h). inbox: subscribe to this portal's inbox
  // (proposals to review, answers to what it published); unset: when its
  // certificate has the subscriber role. endorse_topic: where endorsements
  // go when a decision names no topic.
  std::optional<bool> review_inbox;
  std::string endorse_topic;
};

// Reads and checks the file; every mistake is named (INVALID_ARGUMENT). A
// file that holds secrets (a webhook token, a password in a URL) must not be
// readable by group or others: KEY_FILE_INSECURE names it and says chmod 600.
Result<NodeConfig> load_node_config(const std::filesystem::path& file);

// "earliest", "new", "seq:N" or a time (RFC 3339).
Result<v1::StartPosition> parse_start_position(const std::string& text);

}  // namespace lantoa::node
