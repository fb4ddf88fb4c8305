#include "api/metrics.h"

#include <sstream>

#include "lantoa/internal/prometheus.h"
#include "node.h"

namespace lantoa::node {
namespace {

using prometheus::Family;

double age_s(int64_t now_ms, int64_t since_ms) {
  return since_ms > 0 && now_ms > since_ms ? (now_ms - since_ms) / 1000.0 : 0.0;
}

void outbox(std::ostream& o, const NodeFigures& f) {
  const PublisherStats& s = f.outbox;
  Family(o, "lantoa_node_outbox_depth", "gauge", "Events in the outbox: signed, not yet confirmed by the broker.")
      .add(s.unconfirmed);
  Family(o, "lantoa_node_outbox_oldest_age_seconds", "gauge",
         "Seconds the oldest event in the outbox has waited; 0 when it is empty.")
      .add(age_s(f.now_ms, s.oldest_unconfirmed_ms));
  Family(o, "lantoa_node_outbox_sent_total", "counter",
         "Events sent to the broker; a resend (after a reconnect or a passing refusal) counts again.")
      .add(s.sent);
  Family(o, "lantoa_node_outbox_acked_total", "counter",
         "Events the broker confirmed stored: accepted, or a duplicate of one it already had.")
      .add({{"result", "accepted"}}, s.accepted)
      .add({{"result", "duplicate"}}, s.duplicates);
  Family refused(o, "lantoa_node_outbox_refused_total", "counter",
                 "Refusals by the broker, by class (permanent: the event is rejected; passing: it is sent again) "
                 "and reason.");
  for (const auto& [code, n] : s.rejected) refused.add({{"class", "permanent"}, {"reason", code_name(code)}}, n);
  for (const auto& [code, n] : s.held_back) refused.add({{"class", "passing"}, {"reason", code_name(code)}}, n);
}

void receiving(std::ostream& o, const NodeFigures& f) {
  {
    Family open(o, "lantoa_node_subscription_open", "gauge", "1 while the subscription is open at the broker, else 0.");
    for (const auto& s : f.subscriptions) open.add({{"subscription", s.name}}, s.open ? 1 : 0);
  }
  {
    Family refused(o, "lantoa_node_subscription_refused", "gauge",
                   "1 while the broker refuses the subscription for a reason waiting will not cure, else 0.");
    for (const auto& s : f.subscriptions) refused.add({{"subscription", s.name}}, s.refused ? 1 : 0);
  }
  Family(o, "lantoa_node_received_total", "counter", "Received events that entered the inbox.").add(f.received);
  Family(o, "lantoa_node_received_rejected_total", "counter", "Received events that failed verification.")
      .add(f.received_rejected);
  Family(o, "lantoa_node_received_sanitized_total", "counter",
         "Received events whose content the HTML sanitiser changed.")
      .add(f.sanitized);
  Family(o, "lantoa_node_received_refused_total", "counter",
         "Corrections or retractions of another origin's item, refused (since the data folder was made).")
      .add(f.store.refused);
  Family(o, "lantoa_node_inbox_items", "gauge", "Received events kept in the inbox (acknowledged ones too).")
      .add(f.store.inbox_entries);
  Family(o, "lantoa_node_inbox_bytes", "gauge", "LMDB pages of the inbox, in bytes.").add(f.store.inbox_bytes);
  Family(o, "lantoa_node_store_used_bytes", "gauge", "LMDB pages in use in the node's state, in bytes.")
      .add(f.store.used_bytes);
  Family(o, "lantoa_node_store_map_size_bytes", "gauge", "The LMDB map size of the node's state: the most it can hold.")
      .add(f.store.map_bytes);
}

void deliveries(std::ostream& o, const NodeFigures& f) {
  using D = DeliveryWorker::Figures;
  auto per_target = [&](const char* name, const char* type, const char* help, auto value) {
    Family family(o, name, type, help);
    for (const D& d : f.deliveries) family.add({{"target", d.target}}, value(d));
  };
  per_target("lantoa_node_delivery_backlog", "gauge", "Inbox events the target has yet to take.",
             [](const D& d) { return d.backlog; });
  per_target("lantoa_node_deliveries_total", "counter", "Events delivered to the target.",
             [](const D& d) { return d.delivered; });
  per_target("lantoa_node_delivery_failures_total", "counter", "Delivery attempts that failed.",
             [](const D& d) { return d.failures; });
  per_target("lantoa_node_delivery_last_success_age_seconds", "gauge",
             "Seconds since the target's last delivery (since the node started, when none yet).",
             [&](const D& d) { return age_s(f.now_ms, d.last_success_ms); });
  per_target("lantoa_node_delivery_unreachable", "gauge",
             "1 while the target cannot be reached and every topic waits, else 0.",
             [](const D& d) { return d.unreachable.empty() ? 0 : 1; });
  per_target("lantoa_node_delivery_held_lanes", "gauge", "Topics whose next event the target refused: they wait.",
             [](const D& d) { return d.held.size(); });
  static_assert(kMaxHeldTopics == 20, "the help text below says 20");
  Family held(o, "lantoa_node_delivery_held_events", "gauge",
              "Events waiting in a held topic's lane, the refused one included "
              "(past 20 held topics: topic=\"other\").");
  for (const D& d : f.deliveries) {
    size_t rest = 0;
    for (size_t i = 0; i < d.held.size(); ++i) {
      if (i < kMaxHeldTopics) {
        held.add({{"target", d.target}, {"topic", d.held[i].topic}}, d.held[i].waiting);
      } else {
        rest += d.held[i].waiting;
      }
    }
    if (d.held.size() > kMaxHeldTopics) held.add({{"target", d.target}, {"topic", "other"}}, rest);
  }
}

void feeds(std::ostream& o, const NodeFigures& f) {
  using F = NodeFigures::Feed;
  auto per_feed = [&](const char* name, const char* type, const char* help, auto value) {
    Family family(o, name, type, help);
    for (const F& feed : f.feeds) family.add({{"feed", feed.name}}, value(feed.stats));
  };
  per_feed("lantoa_node_feed_polls_total", "counter", "Polls of the feed (a fetch and what it brought).",
           [](const FeedStats& s) { return s.polls; });
  per_feed("lantoa_node_feed_poll_errors_total", "counter",
           "Polls that ended in an error (fetch refused or failed, not a feed, a publication failed).",
           [](const FeedStats& s) { return s.failed_polls; });
  per_feed("lantoa_node_feed_last_poll_success", "gauge", "1 if the last poll ended without an error, else 0.",
           [](const FeedStats& s) { return s.last_poll_ok ? 1 : 0; });
  per_feed("lantoa_node_feed_last_poll_timestamp_seconds", "gauge",
           "When the last poll ended, seconds since the Unix epoch; 0 before the first.",
           [](const FeedStats& s) { return s.last_poll_ms / 1000.0; });
  {
    Family items(o, "lantoa_node_feed_items_total", "counter",
                 "Feed items published: new ones as news, changed ones as corrections.");
    for (const F& feed : f.feeds) {
      items.add({{"feed", feed.name}, {"kind", "news"}}, feed.stats.published);
      items.add({{"feed", feed.name}, {"kind", "correction"}}, feed.stats.corrections);
    }
  }
  per_feed("lantoa_node_feed_items_skipped_total", "counter", "Feed items that could not be made into an event.",
           [](const FeedStats& s) { return s.skipped; });
}

}  // namespace

std::string metrics_text(const NodeFigures& f) {
  std::ostringstream o;
  o.precision(15);  // a timestamp in seconds with its milliseconds
  Family(o, "lantoa_node_build_info", "gauge", "The node's version; always 1.").add({{"version", LANTOA_VERSION}}, 1);
  Family(o, "lantoa_node_broker_connected", "gauge", "1 while the link to the broker is up, else 0.")
      .add(f.broker_connected ? 1 : 0);
  Family(o, "lantoa_node_problems", "gauge", "Problems that need the operator (what /healthz lists).").add(f.problems);
  outbox(o, f);
  receiving(o, f);
  deliveries(o, f);
  feeds(o, f);
  prometheus::write_process_metrics(o);
  return o.str();
}

}  // namespace lantoa::node
