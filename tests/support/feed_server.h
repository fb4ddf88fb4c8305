// A stand-in CMS feed for tests: a small HTTP server on 127.0.0.1 (any free
// port) that serves one RSS/Atom document, and redirects.
#pragma once

#include <httplib.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace lantoa::testing {

// Serves one document at /feed.xml (with an ETag and conditional GET, which
// can be turned off) and redirects /old-feed there.
class FeedServer {
 public:
  explicit FeedServer(const std::string& host = "127.0.0.1") : host_(host) {
    server_.Get("/feed.xml", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      ++requests_;
      const std::string etag = "\"" + std::to_string(std::hash<std::string>{}(content_)) + "\"";
      if (etags_) {
        if (req.get_header_value("If-None-Match") == etag) {
          ++not_modified_;
          res.status = 304;
          return;
        }
        res.set_header("ETag", etag);
      }
      res.set_content(content_, "application/rss+xml; charset=utf-8");
    });
    server_.Get("/old-feed", [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/feed.xml", 301); });
    server_.Get("/moved", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mu_);
      res.set_redirect(redirect_, 302);
    });
    port_ = server_.bind_to_any_port(host_);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FeedServer() {
    server_.stop();
    thread_.join();
  }
  std::string url(const std::string& path) const { return "http://" + host_ + ":" + std::to_string(port_) + path; }
  // /moved answers 302 to this URL.
  void set_redirect(std::string to) {
    std::lock_guard lock(mu_);
    redirect_ = std::move(to);
  }
  void set_content(std::string c) {
    std::lock_guard lock(mu_);
    content_ = std::move(c);
  }
  void set_etags(bool on) { etags_ = on; }
  size_t requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  size_t not_modified() const {
    std::lock_guard lock(mu_);
    return not_modified_;
  }

 private:
  std::string host_;
  std::string redirect_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::string content_;
  std::atomic<bool> etags_{true};
  size_t requests_ = 0, not_modified_ = 0;
};

}  // namespace lantoa::testing
