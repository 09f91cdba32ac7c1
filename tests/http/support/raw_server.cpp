// http/support/raw_server.cpp — the scripted HTTP peer (raw_server.hpp).
#include "support/raw_server.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace coreio_http_test {

namespace {

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string seen_request::header(std::string_view name) const {
  std::size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos + 2 < head.size()) {
    const std::size_t end = head.find("\r\n", pos + 2);
    if (end == std::string::npos) break;
    const std::string_view line(head.data() + pos + 2, end - pos - 2);
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos && iequal(line.substr(0, colon), name)) {
      std::string_view v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      return std::string(v);
    }
    pos = end;
  }
  return {};
}

struct raw_server::state {
  script respond;
  coreio::net::server server;
  std::atomic<std::size_t> conns{0};
  std::atomic<std::size_t> reqs{0};
  // send_continue(); relaxed: a test setting, read per request.
  std::atomic<bool> continue_first{false};
  // read_heads_only(); relaxed as continue_first.
  std::atomic<bool> heads_only{false};
  mutable std::mutex m;
  // Guarded by m.
  std::string before_continue;  // send_continue()'s interim responses
  std::vector<seen_request> seen;
  std::vector<coreio::net::tcp_stream*> open;
  bool stopping = false;
};

namespace {

coreio::task<void> handle(std::shared_ptr<raw_server::state> st, coreio::net::tcp_stream s) {
  if (!st) co_return;  // the server object is gone
  const std::size_t conn = st->conns.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> g(st->m);
    if (st->stopping) co_return;
    st->open.push_back(&s);
  }
  try {
    for (std::size_t on_conn = 0;; ++on_conn) {
      seen_request req;
      req.connection = conn;
      req.connection_request = on_conn;
      req.head = co_await s.read_until("\r\n\r\n", 1 << 20);
      if (st->continue_first.load(std::memory_order_relaxed) &&
          iequal(req.header("expect"), "100-continue")) {
        std::string interim;
        {
          std::lock_guard g(st->m);
          interim = st->before_continue;
        }
        interim += "HTTP/1.1 100 Continue\r\n\r\n";
        co_await s.write_all(std::string_view(interim));
      }
      // With heads_only the body is left unread (a server answering, or stalling, from the head).
      if (!st->heads_only.load(std::memory_order_relaxed)) req.body = co_await read_body(s, req);
      const std::size_t index = st->reqs.fetch_add(1, std::memory_order_relaxed);
      {
        std::lock_guard<std::mutex> g(st->m);
        st->seen.push_back(req);
      }
      const reply r = st->respond(req, index);
      if (r.delay.count() > 0) co_await coreio::sleep_for(r.delay);
      if (r.hold) co_await r.hold->wait();
      if (!r.bytes.empty()) co_await s.write_all(std::string_view(r.bytes));
      if (!r.then.empty()) {
        if (r.then_delay.count() > 0) co_await coreio::sleep_for(r.then_delay);
        co_await s.write_all(std::string_view(r.then));
      }
      if (r.stall && st->heads_only.load(std::memory_order_relaxed)) {
        // Reading would take the body the server is not to read: wait for stop() instead (or 30 s).
        for (int i = 0; i < 3000; ++i) {
          {
            std::lock_guard<std::mutex> g(st->m);
            if (st->stopping) break;
          }
          co_await coreio::sleep_for(std::chrono::milliseconds(10));
        }
        break;
      }
      if (r.stall) {
        std::array<std::byte, 4096> sink;
        while (co_await s.read_some(std::span(sink)) > 0) {
        }
        break;
      }
      if (r.close) break;
    }
  } catch (...) {
    // The client went away, or stop() closed the socket.
  }
  std::lock_guard<std::mutex> g(st->m);
  std::erase(st->open, &s);
}

}  // namespace

raw_server::raw_server(script s) : s_(std::make_shared<state>()) {
  s_->respond = std::move(s);
  // The handler holds the state weakly: the state holds the server, which holds the handler.
  std::weak_ptr<state> weak = s_;
  s_->server = coreio::net::serve(
      coreio::net::tcp_listener::bind("127.0.0.1", 0),
      [weak](coreio::net::tcp_stream conn) { return handle(weak.lock(), std::move(conn)); });
}

raw_server::~raw_server() {
  s_->server.stop();
  std::lock_guard<std::mutex> g(s_->m);
  s_->stopping = true;
  for (auto* c : s_->open) c->close();
}

std::uint16_t raw_server::port() const { return s_->server.port(); }

std::string raw_server::url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port()) + std::string(path);
}

std::size_t raw_server::connections() const { return s_->conns.load(std::memory_order_relaxed); }
void raw_server::send_continue(bool on, std::string before) {
  {
    std::lock_guard g(s_->m);
    s_->before_continue = std::move(before);
  }
  s_->continue_first.store(on, std::memory_order_relaxed);
}

void raw_server::read_heads_only(bool on) { s_->heads_only.store(on, std::memory_order_relaxed); }

std::size_t raw_server::open_connections() const {
  std::lock_guard<std::mutex> g(s_->m);
  return s_->open.size();
}
std::size_t raw_server::requests() const { return s_->reqs.load(std::memory_order_relaxed); }

std::vector<seen_request> raw_server::seen() const {
  std::lock_guard<std::mutex> g(s_->m);
  return s_->seen;
}

coreio::task<void> raw_server::stop() {
  s_->server.stop();
  {
    std::lock_guard<std::mutex> g(s_->m);
    s_->stopping = true;
    for (auto* c : s_->open) c->close();
  }
  co_await s_->server.wait();
}

coreio::task<std::string> read_body(coreio::net::tcp_stream& s, const seen_request& req) {
  std::string body;
  const std::string cl = req.header("content-length");
  if (!cl.empty()) {
    body.resize(std::stoul(cl));
    co_await s.read_exact(std::as_writable_bytes(std::span<char>(body)));
  } else if (iequal(req.header("transfer-encoding"), "chunked")) {
    for (;;) {
      const std::string size_line = co_await s.read_until("\r\n", 1024);
      const std::size_t n = std::stoul(size_line, nullptr, 16);
      std::string piece(n + 2, '\0');
      co_await s.read_exact(std::as_writable_bytes(std::span<char>(piece)));
      if (n == 0) break;
      body.append(piece, 0, n);
    }
  }
  co_return body;
}

std::string ok_response(std::string_view body, std::string_view extra_headers, int status) {
  std::string r = "HTTP/1.1 " + std::to_string(status) +
                  " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  r += extra_headers;
  r += "\r\n";
  r += body;
  return r;
}

}  // namespace coreio_http_test
