#include "session/link.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "lantoa/encoding.h"
#include "lantoa/names.h"

namespace lantoa::broker {

using E = lantoa::v1::Error;

std::string link_subscription_name(const std::string& peer_tag) {
  return std::string(kLinkSubscriptionPrefix) + peer_tag;
}

std::string broker_tag(std::string_view transport_key_bytes) { return to_hex(transport_key_bytes).substr(0, 16); }

Result<std::vector<InterestEntry>> read_interest(const v1::Interest& interest) {
  if (static_cast<size_t>(interest.entries_size()) > kMaxInterestEntries) {
    return Status(E::INVALID_ARGUMENT, "an Interest of " + std::to_string(interest.entries_size()) +
                                           " entries; at most " + std::to_string(kMaxInterestEntries));
  }
  std::vector<InterestEntry> out;
  out.reserve(interest.entries_size());
  for (const auto& e : interest.entries()) {
    if (Status s = validate_filter(e.filter()); !s.ok()) {
      return Status(E::INVALID_FILTER, "Interest: " + s.message());
    }
    if (static_cast<size_t>(e.path_size()) > kMaxInterestPath) {
      return Status(E::INVALID_ARGUMENT, "Interest: a path of " + std::to_string(e.path_size()) +
                                             " brokers; at most " + std::to_string(kMaxInterestPath));
    }
    InterestEntry entry{e.filter(), {}};
    for (const auto& tag : e.path()) {
      if (tag.size() != 16 || tag.find_first_not_of("0123456789abcdef") != std::string::npos) {
        return Status(E::INVALID_ARGUMENT, "Interest: a path names a broker tag that is not 16 hex digits");
      }
      entry.path.push_back(tag);
    }
    out.push_back(std::move(entry));
  }
  return out;
}

std::vector<InterestEntry> compact_interest(std::vector<InterestEntry> entries) {
  std::map<std::string, InterestEntry> by_filter;
  for (auto& e : entries) {
    auto [it, fresh] = by_filter.try_emplace(e.filter, e);
    if (!fresh && e.path.size() < it->second.path.size()) it->second = std::move(e);
  }
  std::vector<InterestEntry> out;
  for (auto& [filter, e] : by_filter) {
    bool covered = false;
    for (const auto& [other, o] : by_filter) {
      if (other != filter && filter_covers(other, filter)) {
        covered = true;
        break;
      }
    }
    if (!covered) out.push_back(std::move(e));
  }
  if (out.size() > kMaxInterestEntries) {
    // Too many to tell: keep the widest (fewest labels), which forwards more than asked, never less.
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return std::count(a.filter.begin(), a.filter.end(), '.') < std::count(b.filter.begin(), b.filter.end(), '.');
    });
    out.resize(kMaxInterestEntries);
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.filter < b.filter; });
  }
  return out;
}

std::vector<InterestEntry> mirror_interest() {
  std::vector<InterestEntry> all = {{">", {}}, {"$trust.>", {}}};
  std::string stars;
  for (size_t depth = 1; depth <= kMaxMemberLabels; ++depth) {
    stars += depth == 1 ? "*" : ".*";
    all.push_back({stars + "." + std::string(kInboxLabel) + ".>", {}});
  }
  return all;
}

std::vector<InterestEntry> restrict_interest(const std::vector<InterestEntry>& entries,
                                             const std::vector<std::string>& allowed) {
  if (allowed.empty()) return entries;
  std::vector<InterestEntry> out;
  for (const auto& e : entries) {
    for (const auto& a : allowed) {
      if (auto both = filter_intersect(e.filter, a)) out.push_back(InterestEntry{*both, e.path});
    }
  }
  return compact_interest(std::move(out));
}

std::vector<std::string> interest_filters(const std::vector<InterestEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.filter);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool allowed_by(const std::vector<std::string>& filters, std::string_view topic) {
  if (filters.empty()) return true;
  for (const auto& f : filters) {
    if (filter_matches(f, topic)) return true;
  }
  return false;
}

// --- LinkDialer ---

LinkDialer::LinkDialer(zmq::context_t& context, LinkConfig config, std::string endpoint, std::string peer_key,
                       const MemberKey& own_key, std::string own_chain)
    : context_(context),
      config_(std::move(config)),
      own_key_(own_key),
      own_chain_(std::move(own_chain)),
      endpoint_(std::move(endpoint)),
      peer_key_(std::move(peer_key)),
      peer_tag_(broker_tag(peer_key_)) {}

void LinkDialer::open(int64_t mono_ms) {
  socket_.emplace(context_, zmq::socket_type::dealer);
  const std::string secret = own_key_.transport.secret();
  socket_->set(zmq::sockopt::curve_serverkey, zmq::const_buffer(peer_key_.data(), 32));
  socket_->set(zmq::sockopt::curve_publickey, zmq::const_buffer(own_key_.transport.public_key().data(), 32));
  socket_->set(zmq::sockopt::curve_secretkey, zmq::const_buffer(secret.data(), 32));
  socket_->set(zmq::sockopt::linger, 0);
  socket_->set(zmq::sockopt::reconnect_ivl, 1000);
  // Never more than this queued towards the peer inside ZeroMQ: what is owed
  // waits in the store, by reference, not in memory.
  socket_->set(zmq::sockopt::sndhwm, 1000);
  socket_->connect(endpoint_);
  ++connects_;
  v1::ClientFrame hello;
  auto* h = hello.mutable_hello();
  h->set_protocol_version(v1::PROTOCOL_V1);
  h->mutable_chain()->ParseFromString(own_chain_);
  h->set_agent("lantoa-broker link " + config_.name);
  state_ = State::kHello;
  hello_sent_ms_ = last_seen_ms_ = mono_ms;
  (void)send(hello, mono_ms);
}

void LinkDialer::tick(int64_t mono_ms, uint32_t heartbeat_ms) {
  if (!socket_) {
    if (mono_ms >= next_attempt_ms_) open(mono_ms);
    return;
  }
  const int64_t hb = heartbeat_ms;
  if (state_ == State::kHello && mono_ms - hello_sent_ms_ > std::max<int64_t>(3 * hb, 5000)) {
    return down("no Welcome from " + endpoint_ + " (nothing listening there, or not the broker with that key)",
               mono_ms);
  }
  if (state_ == State::kUp && mono_ms - last_seen_ms_ > 3 * hb) {
    return down("the peer was silent for " + std::to_string(mono_ms - last_seen_ms_) + " ms (3 heartbeat intervals)",
                mono_ms);
  }
  if (state_ == State::kUp && mono_ms - last_sent_ms_ >= hb) {
    v1::ClientFrame frame;
    frame.mutable_heartbeat()->set_time_ms(unix_now_ms());
    (void)send(frame, mono_ms);
  }
}

std::optional<v1::BrokerFrame> LinkDialer::receive(int64_t mono_ms) {
  if (!socket_) return std::nullopt;
  zmq::message_t msg;
  try {
    if (!socket_->recv(msg, zmq::recv_flags::dontwait)) return std::nullopt;
  } catch (const zmq::error_t& e) {
    return std::nullopt;
  }
  bytes_received_ += msg.size();
  last_seen_ms_ = mono_ms;
  v1::BrokerFrame frame;
  if (!frame.ParseFromArray(msg.data(), static_cast<int>(msg.size()))) {
    down("the peer sent a frame that is not a BrokerFrame", mono_ms);
    return std::nullopt;
  }
  return frame;
}

Status LinkDialer::send(const google::protobuf::MessageLite& frame, int64_t mono_ms) {
  if (!socket_) return Status(E::UNAVAILABLE, "the link is down");
  zmq::message_t body(frame.ByteSizeLong());
  frame.SerializeToArray(body.data(), static_cast<int>(body.size()));
  const size_t n = body.size();
  try {
    if (!socket_->send(body, zmq::send_flags::dontwait)) return Status(E::UNAVAILABLE, "the link's send queue is full");
  } catch (const zmq::error_t& e) {
    return Status(E::UNAVAILABLE, std::string("sending on the link: ") + e.what());
  }
  bytes_sent_ += n;
  last_sent_ms_ = mono_ms;
  return Status::Ok();
}

void LinkDialer::up(int64_t mono_ms, int64_t wall_ms) {
  state_ = State::kUp;
  backoff_ms_ = 0;
  down_reason_.clear();
  last_seen_ms_ = mono_ms;
  up_since_ms_ = wall_ms;
}

void LinkDialer::down(const std::string& why, int64_t mono_ms) {
  if (state_ == State::kUp || down_reason_ != why) {
    spdlog::warn("link {} to {}: down: {}", config_.name, endpoint_, why);
  }
  socket_.reset();
  state_ = State::kIdle;
  down_reason_ = why;
  up_since_ms_ = 0;
  backoff_ms_ = std::clamp<int64_t>(backoff_ms_ * 2, 250, 10'000);
  next_attempt_ms_ = mono_ms + backoff_ms_;
}

}  // namespace lantoa::broker
