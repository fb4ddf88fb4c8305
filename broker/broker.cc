#include "broker.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <tuple>
#include <unordered_map>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "lantoa/internal/file_util.h"
#include "ingest/verifier.h"
#include "lantoa/encoding.h"
#include "lantoa/keys.h"
#include "lantoa/names.h"
#include "lantoa/connection.h"
#include "lantoa/trust.h"
#include "monitor/http.h"
#include "session/admission.h"
#include "session/server.h"
#include "session/zap.h"
#include "store/check.h"
#include "store/store.h"
#include "store/writer.h"

namespace lantoa::broker {
namespace {

using E = lantoa::v1::Error;

Result<MemberKey> load_or_create_key(const BrokerConfig& c) {
  if (std::filesystem::exists(c.key)) return MemberKey::load(c.key);
  auto key = MemberKey::generate(c.server.member);
  if (!key) return key.status();
  LANTOA_RETURN_IF_ERROR(key->save(c.key));
  spdlog::info("created broker key {} (transport key {})", c.key.string(), to_base64url(key->transport.public_key()));
  return key;
}

Result<std::pair<std::string, int>> split_host_port(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) return Status(E::INVALID_ARGUMENT, "monitor address must be host:port, got " + text);
  try {
    return std::pair<std::string, int>{text.substr(0, colon), std::stoi(text.substr(colon + 1))};
  } catch (const std::exception&) {
    return Status(E::INVALID_ARGUMENT, "monitor port is not a number in " + text);
  }
}

// Applies every revocation list kept in the folder (lists carried on the bus
// are kept there too, so they survive restarts), oldest first. Each is judged
// at the time it was issued: a list that was in force stays in force after
// its issuer is itself revoked later.
Status load_revocations_folder(TrustStore& trust, const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return Status::Ok();
  std::vector<std::pair<v1::RevocationList, v1::SignedRevocationList>> lists;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() != ".crl") continue;
    auto list = load_revocations(e.path());
    auto decoded = list.ok() ? decode_revocation_list(*list) : Result<v1::RevocationList>(list.status());
    if (!decoded) {
      spdlog::warn("revocation list {} not applied: {}", e.path().string(), decoded.status().to_string());
      continue;
    }
    lists.emplace_back(std::move(*decoded), std::move(*list));
  }
  std::sort(lists.begin(), lists.end(), [](const auto& a, const auto& b) {
    return std::make_pair(a.first.issued_ms(), a.first.number()) < std::make_pair(b.first.issued_ms(), b.first.number());
  });
  for (const auto& [decoded, list] : lists) {
    Status s = trust.add_revocation_list(list, decoded.issued_ms());
    if (!s.ok() && s.code() != E::REVOCATION_LIST_STALE) {
      spdlog::warn("revocation list {} of {} not applied: {}", decoded.number(), decoded.issuer(), s.to_string());
    }
  }
  if (!lists.empty()) spdlog::info("applied {} revocation list file(s) from {}", lists.size(), dir.string());
  return Status::Ok();
}

// Restrictions declared on the bus are kept in the folder as
// {"namespace": ..., "readers": [...], "owner": ...} and applied again at
// start. A damaged file stops the start with its name and what is wrong:
// carrying on without it would open a restricted namespace to everyone.
Status load_restrictions_folder(Restrictions& restrictions, const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return Status::Ok();
  std::vector<std::string> problems;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() != ".json") continue;
    std::ifstream in(e.path());
    auto j = nlohmann::json::parse(in, nullptr, false);
    Restriction r;
    bool ok = !j.is_discarded() && j.is_object() && j.contains("namespace") && j["namespace"].is_string() &&
              j.contains("readers") && j["readers"].is_array();
    if (ok) {
      r.ns = j["namespace"].get<std::string>();
      for (const auto& x : j["readers"]) {
        if (!x.is_string() || !validate_member_id(x.get<std::string>()).ok()) ok = false;
        else r.readers.push_back(x.get<std::string>());
      }
      if (j.contains("owner") && j["owner"].is_string()) r.owner = j["owner"].get<std::string>();
      ok = ok && validate_topic(r.ns).ok() && !r.readers.empty();
    }
    if (!ok) {
      problems.push_back(e.path().string() +
                         " is not a restriction ({\"namespace\": \"vn.x.internal\", \"readers\": [\"vn.x\"], "
                         "\"owner\": \"vn.x\"}, readers being member ids)");
      continue;
    }
    restrictions.set(std::move(r));
  }
  if (problems.empty()) return Status::Ok();
  std::string message = "cannot start with damaged restriction files (fix or restore them from a backup):";
  for (const auto& p : problems) message += "\n  " + p;
  return Status(E::INVALID_ARGUMENT, message);
}

// The monitoring port's requests, answered by the I/O thread (the server's
// control queue); the HTTP thread waits for the answer.
Result<std::string> ask(Server& server, ControlRequest request) {
  auto answer = request.answer->get_future();
  if (server.control_closed()) return Status(E::UNAVAILABLE, "the broker is stopping");
  server.control().push(std::move(request));
  if (answer.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    return Status(E::TIMEOUT, "the broker did not answer within 10 s (it may be stopping; an admin verb may still "
                              "be carried out: look again)");
  }
  ControlAnswer a;
  try {
    a = answer.get();
  } catch (const std::future_error&) {  // the request was dropped unanswered: the broker is stopping
    return Status(E::UNAVAILABLE, "the broker is stopping");
  }
  if (!a.status.ok()) return a.status;
  return a.body.dump(2);
}

MonitorActions monitor_actions(Server& server, std::string admin_token, const TrustStore& trust,
                               std::string transport_key) {
  MonitorActions actions;
  actions.admin_token = std::move(admin_token);
  actions.trust = &trust;
  actions.transport_key = std::move(transport_key);
  actions.spread = [&server](const std::string& id) {
    ControlRequest r;
    r.verb = ControlRequest::Verb::kSpread;
    r.event_id = id;
    return ask(server, std::move(r));
  };
  actions.admin = [&server](MonitorActions::Admin verb, const std::string& a, const std::string& b) {
    ControlRequest r;
    switch (verb) {
      case MonitorActions::Admin::kRemoveSubscription: r.verb = ControlRequest::Verb::kRemoveSubscription; break;
      case MonitorActions::Admin::kPurgeQueue: r.verb = ControlRequest::Verb::kPurgeQueue; break;
      case MonitorActions::Admin::kCloseSessions: r.verb = ControlRequest::Verb::kCloseSessions; break;
    }
    r.owner = a;
    r.name = b;
    r.member = a;
    return ask(server, std::move(r));
  };
  return actions;
}

}  // namespace

Status run_broker(BrokerConfig config, const std::atomic<bool>& stop) {
  config.finish();
  std::string admin_token;  // read before anything is created: a mistake stops the broker at once
  if (!config.monitor_admin_token_file.empty()) {
    auto t = internal::read_secret_file(config.monitor_admin_token_file, "monitoring admin token");
    if (!t) return t.status();
    admin_token = std::move(*t);
  }
  std::error_code ec;
  std::filesystem::create_directories(config.data, ec);
  if (ec) return Status(E::IO_ERROR, "cannot create data folder " + config.data.string() + ": " + ec.message());
  // One broker per data folder: two on one store hand out the same broker
  // sequences and overwrite each other's events.
  auto lock = internal::FolderLock::take(config.data, "broker.lock", "lantoa-broker");
  if (!lock) return lock.status();

  auto root = PublicKeys::load(config.trust_root);
  if (!root) {
    return Status(root.status().code(), "cannot load the trust root: " + root.status().message() +
                                            " (give --trust-root FILE, the public key file of the root authority, "
                                            "or put it at " + (config.data / "trust-root.pub").string() + ")");
  }
  TrustStore trust(RootKey{root->member, root->sign});
  LANTOA_RETURN_IF_ERROR(load_revocations_folder(trust, config.revocations));
  Admission admission(trust, config.certs, config.strict_admission);
  spdlog::info("{} known certificates in {}{}", admission.scan(), config.certs.string(),
               config.strict_admission ? " (strict admission: only these may connect)" : "");
  auto key = load_or_create_key(config);
  if (!key) return key.status();
  config.server.transport_key = key->transport.public_key();

  // This broker's certificate (for links) and the links it dials: every
  // mistake named at once, before the store is touched.
  std::vector<std::string> mistakes;
  if (!config.certificate.empty()) {
    const std::string where = "certificate " + config.certificate.string() + ": ";
    auto chain = load_chain(config.certificate);
    if (!chain) {
      mistakes.push_back(where + chain.status().message());
    } else if (auto who = trust.verify_chain(*chain, unix_now_ms()); !who) {
      mistakes.push_back(where + who.status().to_string());
    } else if (!who->has_role(v1::BROKER)) {
      mistakes.push_back(where + who->member() + " is not certified with the broker role (lantoa cert issue --roles broker)");
    } else if (who->certificate.transport_key() != key->transport.public_key()) {
      mistakes.push_back(where + "it certifies another transport key than this broker's (" + config.key.string() +
                         ", transport key " + to_base64url(key->transport.public_key()) + ")");
    } else {
      chain->SerializeToString(&config.server.own_chain);
      // It serves the namespace of the authority that certified it: a broker
      // certified by vn.qn serves vn.qn and below; one certified by the root, all.
      config.server.serves = who->certificate.issuer();
      if (config.server.member == ServerOptions{}.member) config.server.member = who->member();
    }
  }
  std::vector<std::pair<LinkConfig, BrokerAddress>> links;
  if (!config.links.empty() && config.certificate.empty()) {
    mistakes.push_back("[[links]] need this broker's certificate with the broker role: set `certificate`");
  }
  for (const auto& link : config.links) {
    auto address = resolve_broker(link.endpoint, link.key);
    if (!address) {
      mistakes.push_back("link " + link.name + ": " + address.status().message());
      continue;
    }
    if (address->transport_key == key->transport.public_key()) {
      mistakes.push_back("link " + link.name + ": its key is this broker's own");
      continue;
    }
    links.emplace_back(link, std::move(*address));
  }
  if (!mistakes.empty()) {
    std::string message = mistakes.size() == 1 ? mistakes[0] : std::to_string(mistakes.size()) + " mistakes:";
    if (mistakes.size() > 1) {
      for (const auto& m : mistakes) message += "\n  - " + m;
    }
    return Status(E::INVALID_ARGUMENT, message);
  }

  // Every record is read once before the store is used (in a child
  // process: LMDB aborts on some damaged pages): a damaged store is refused
  // with what is wrong, never taken into service to fail later.
  {
    const auto started = std::chrono::steady_clock::now();
    LANTOA_RETURN_IF_ERROR(check_store_isolated(config.data, CheckOptions{.verify_signatures = false,
                                                                          .check_identity = false}));
    spdlog::info("store checked in {} ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::steady_clock::now() - started).count());
  }
  store::EnvOptions env;
  env.map_size = config.map_size_mb << 20;
  Restrictions restrictions;
  LANTOA_RETURN_IF_ERROR(load_restrictions_folder(restrictions, config.restrictions));
  auto store = Store::open(config.data, env, &restrictions,
                           StoreOpening{config.server.member, config.accept_store_change});
  if (!store) return store.status();
  (*store)->set_max_queue_depth(config.max_queue_depth);
  (*store)->set_replay_horizon_ms(config.replay_horizon_ms);

  zmq::context_t context(1);
  Metrics metrics;
  ZapHandler zap(context, [&admission, &metrics](const std::string& curve_key) {
    Status admitted = admission.admit(curve_key);
    if (!admitted.ok()) metrics.refuse_session(admitted.code());
    return admitted.ok();
  });
  zmq::socket_t frontend(context, zmq::socket_type::router);
  std::string endpoint;
  try {
    std::string secret = key->transport.secret();
    frontend.set(zmq::sockopt::curve_server, 1);
    frontend.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(secret.data(), 32));
    secure_wipe(secret);
    frontend.set(zmq::sockopt::zap_domain, "lantoa");
    frontend.set(zmq::sockopt::sndhwm, 100'000);
    frontend.set(zmq::sockopt::rcvhwm, 100'000);
    frontend.set(zmq::sockopt::linger, 1000);
    // A hard cap against memory exhaustion; the configured frame limit is
    // checked per frame with a clear error (and the connection stays up).
    frontend.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(config.server.max_frame_bytes) * 4);
    frontend.bind(config.listen);
    endpoint = frontend.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return Status(E::UNAVAILABLE, "cannot listen on " + config.listen + ": " + e.what());
  }

  // What only the store can tell, read when monitoring asks (the HTTP
  // thread, with its own read transaction: LMDB readers never block the writer).
  metrics.set_store_reader([&store = **store](const std::vector<uint64_t>& subs) {
    StoreFigures f;
    std::tie(f.used_bytes, f.map_bytes) = store.used_and_map_bytes();
    auto txn = store::Txn::read(store.env());
    if (!txn) return f;
    std::unordered_map<uint64_t, int64_t> accepted_at;  // seq -> accepted_ms: queues often share their oldest
    for (uint64_t sub : subs) {
      auto seq = store.oldest_queued_seq(*txn, sub);
      if (!seq || *seq == 0) continue;
      auto at = accepted_at.find(*seq);
      if (at == accepted_at.end()) {
        auto ev = store.read_event(*txn, *seq);
        if (!ev || !ev->has_value()) continue;
        // Since it could be delivered: its acceptance, or the end of its embargo.
        at = accepted_at.emplace(*seq, std::max((**ev).accepted_ms(), (**ev).embargo_until_ms())).first;
      }
      f.oldest_queued_ms[sub] = at->second;
    }
    return f;
  });

  Completions completions;
  Writer writer(**store, completions, metrics, config.writer);
  Verifier verifier(trust, restrictions, writer, metrics, config.verifier);
  Server server(frontend, **store, trust, restrictions, admission, verifier, writer, completions, metrics,
                config.server);
  for (auto& [link, address] : links) {
    spdlog::info("link {}: dials {} (exports {}, imports {})", link.name, address.endpoint,
                 link.exports.empty() ? "what the peer may read" : nlohmann::json(link.exports).dump(),
                 link.imports.empty() ? "anything" : nlohmann::json(link.imports).dump());
    server.add_link(std::make_unique<LinkDialer>(context, link, address.endpoint, address.transport_key, *key,
                                                 config.server.own_chain));
  }
  zmq::socket_t closes(context, zmq::socket_type::pair);
  if (zmq_socket_monitor(frontend.handle(), "inproc://lantoa-frontend-closes", ZMQ_EVENT_DISCONNECTED) == 0) {
    closes.connect("inproc://lantoa-frontend-closes");
    server.watch_closes(closes);
  } else {
    spdlog::warn("cannot watch connection closes: {}", zmq_strerror(zmq_errno()));
  }

  std::unique_ptr<MonitorServer> monitor;
  std::string monitor_url;
  if (!config.monitor.empty()) {
    auto hp = split_host_port(config.monitor);
    if (!hp) return hp.status();
    auto m = MonitorServer::start(metrics, hp->first, hp->second, monitor_actions(server, std::move(admin_token), trust,
                                                                        to_base64url(key->transport.public_key())));
    if (!m) return m.status();
    monitor = std::move(*m);
    monitor_url = "http://" + hp->first + ":" + std::to_string(monitor->port());
  }

  const std::filesystem::path ready = config.data / "broker.ready.json";
  nlohmann::json info = {{"endpoint", endpoint},
                         {"monitor", monitor_url},
                         {"member", config.server.member},
                         {"transport_key", to_base64url(key->transport.public_key())},
                         {"pid", ::getpid()}};
  LANTOA_RETURN_IF_ERROR(internal::write_file_atomic(ready, info.dump(2) + "\n", 0644, true));
  spdlog::info("lantoa-broker {} listening on {} (transport key {}), monitoring on {}, data in {}",
               config.server.member, endpoint, to_base64url(key->transport.public_key()),
               monitor_url.empty() ? "off" : monitor_url, config.data.string());

  server.run(stop);

  spdlog::info("stopping: finishing verification and the last commit");
  verifier.stop();
  writer.stop();
  server.flush();
  std::filesystem::remove(ready, ec);
  monitor.reset();
  zmq_socket_monitor(frontend.handle(), nullptr, 0);
  closes.close();
  frontend.close();
  spdlog::info("stopped cleanly");
  return Status::Ok();
}

}  // namespace lantoa::broker
