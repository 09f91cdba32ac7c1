// src/http/server.cpp — the HTTP/1.1 server: router, per-connection loop (keep-alive, pipelining,
// strict framing through the shared parser, deadlines), graceful drain.
//
// One task per connection (net::serve spreads them over the workers). The loop parses from its
// own buffer; responses are appended to an output buffer that is written only when the loop must
// wait for the socket (or closes), so pipelined requests already buffered are answered with one
// write. Deadlines: the head from its first byte (408), each body read (408), the keep-alive idle
// wait (silent close). While idle the wait is sliced (100 ms) so that stop() closes idle
// connections without touching another worker's socket.
#include <coreio/http/server.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <exception>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include <coreio/errors.hpp>
#include <coreio/http/errors.hpp>
#include <coreio/join_handle.hpp>
#include <coreio/net/serve.hpp>
#include <coreio/net/tcp_listener.hpp>
#include <coreio/net/tcp_stream.hpp>
#include <coreio/spawn.hpp>
#include <coreio/sync/event.hpp>
#include <coreio/wait_for.hpp>

#include "parser.hpp"

namespace coreio::http {

namespace detail {

using steady = std::chrono::steady_clock;

struct route_entry {
  std::string method;
  std::vector<std::string> segments;  // "{name}" marks a capture
  handler h;
};

struct server_state {
  server_options opts;
  std::vector<route_entry> routes;
  net::tcp_listener listener;
  std::mutex mu;
  std::optional<net::server> net_srv;                 // guarded by mu
  std::map<std::uint64_t, join_handle<void>*> conns;  // guarded by mu
  std::uint64_t next_id = 0;                          // guarded by mu
  std::atomic<bool> stopping{false};
  coreio::event stopped;
};

struct server_request_state {
  message_head head;
  std::string path;
  std::string query;
  fields hdrs;
  std::string body;
  std::string remote;
  std::vector<std::pair<std::string, std::string>> captures;
  bool chunk_given = false;
  static void attach(request& r, server_request_state* p) noexcept { r.s_ = p; }
};

}  // namespace detail

namespace {

using detail::steady;

bool iequal(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

int hexval(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s, bool plus_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
      i += 2;
    } else if (plus_space && s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::vector<std::string> split_path(std::string_view p) {
  std::vector<std::string> out;
  std::size_t i = 0;
  if (!p.empty() && p[0] == '/') i = 1;
  while (i <= p.size()) {
    const std::size_t j = std::min(p.find('/', i), p.size());
    out.emplace_back(p.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// "Mon, 30 Nov 2026 18:10:37 GMT", rebuilt at most once a second per thread.
std::string_view http_date() {
  thread_local std::time_t cached_sec = 0;
  thread_local char buf[64] = {};
  const std::time_t now = std::time(nullptr);
  if (now != cached_sec) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_sec = now;
  }
  return buf;
}

void append_response(std::string& out, const response& r, const detail::server_state& st,
                     bool head_only, bool close) {
  const int status = r.status();
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\nServer: ";
  out += st.opts.server_name;
  out += "\r\nDate: ";
  out += http_date();
  out += "\r\n";
  for (const auto& [name, value] : r.headers()) {
    if (iequal(name, "content-length") || iequal(name, "connection") ||
        iequal(name, "transfer-encoding") || iequal(name, "date") || iequal(name, "server")) {
      continue;
    }
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  const bool no_body = status == 204 || status == 304 || (status >= 100 && status < 200);
  if (!no_body) {
    out += "Content-Length: ";
    out += std::to_string(r.body().size());
    out += "\r\n";
  }
  if (close) out += "Connection: close\r\n";
  out += "\r\n";
  if (!head_only && !no_body) out += r.body();
}

response plain(int status, std::string body) { return response{status, std::move(body)}; }

int status_for(const limit_error& e) noexcept {
  switch (e.limit()) {
    case limit_kind::request_line:
      return 414;
    case limit_kind::header_field:
    case limit_kind::header_block:
    case limit_kind::header_count:
      return 431;
    case limit_kind::body:
      return 413;
    default:
      return 400;
  }
}

// Thrown inside the loop to answer with a status and close.
struct reject {
  int status;
};

class connection {
 public:
  connection(std::shared_ptr<detail::server_state> st, net::tcp_stream s)
      : st_(std::move(st)),
        s_(std::move(s)),
        parser_(detail::parser::mode::request,
                detail::parse_limits{.max_start_line = 8 * 1024,
                                     .max_field = 8 * 1024,
                                     .max_head = 32 * 1024,
                                     .max_headers = 100,
                                     .max_body = st_->opts.max_body}) {}

  task<void> run() {
    try {
      remote_ = s_.remote_endpoint().to_string();
    } catch (const std::exception&) {
    }
    s_.set_nodelay(true);
    int status = 0;
    try {
      co_await loop();
    } catch (const reject& r) {
      status = r.status;
    } catch (const limit_error& e) {
      status = status_for(e);
    } catch (const http::error&) {
      status = 400;
    } catch (const cancelled_error&) {
      throw;
    } catch (const std::exception&) {
      s_.close();  // a socket error or reset: nothing more to say
      co_return;
    }
    if (status != 0) {
      response r = plain(status, std::string(reason_phrase(status)) + "\n");
      append_response(out_, r, *st_, false, true);
    }
    try {
      co_await flush();
      if (status != 0) co_await linger();
    } catch (const cancelled_error&) {
      throw;
    } catch (const std::exception&) {
    }
    s_.close();
  }

 private:
  task<void> flush() {
    if (out_.empty()) co_return;
    std::string data = std::move(out_);
    out_.clear();
    co_await s_.write_all(std::string_view(data));
  }

  // Lingering close: stop sending, discard what the peer still sends for a short while so the
  // error response is not lost to a reset.
  task<void> linger() {
    s_.shutdown_write();
    const auto until = steady::now() + std::chrono::milliseconds(500);
    std::array<char, 4096> junk{};
    try {
      while (true) {
        auto rd = s_.read_some(std::span<char>(junk));
        auto w = wait_until(std::move(rd), until);
        const std::size_t n = co_await std::move(w);
        if (n == 0) break;
      }
    } catch (const cancelled_error&) {
      throw;
    } catch (const std::exception&) {
    }
  }

  // Reads more bytes into in_ (flushing pending output first). Returns false at end of stream.
  task<bool> read_more(steady::time_point deadline) {
    co_await flush();
    std::array<char, 16 * 1024> buf{};
    auto rd = s_.read_some(std::span<char>(buf));
    auto w = wait_until(std::move(rd), deadline);
    const std::size_t n = co_await std::move(w);
    if (n == 0) co_return false;
    in_.append(buf.data(), n);
    co_return true;
  }

  task<void> loop() {
    const auto& o = st_->opts;
    std::size_t served = 0;
    while (true) {
      // ---- the head ----
      bool started = !in_.empty();
      auto head_deadline = steady::now() + o.header_timeout;
      const auto idle_deadline = steady::now() + o.keepalive_timeout;
      while (true) {
        detail::parse_result r{};
        if (!in_.empty()) {
          started = true;
          r = parser_.feed(std::span<const char>(in_.data(), in_.size()));
          in_.erase(0, r.consumed);
          if (r.event == detail::parse_event::head) break;
        }
        if (!started) {
          if (st_->stopping.load(std::memory_order_acquire)) co_return;
          const auto slice =
              std::min(idle_deadline, steady::now() + std::chrono::milliseconds(100));
          try {
            if (!co_await read_more(slice)) co_return;
          } catch (const timeout_error&) {
            if (steady::now() >= idle_deadline) co_return;
            continue;
          }
          head_deadline = steady::now() + o.header_timeout;
          continue;
        }
        try {
          if (!co_await read_more(head_deadline)) co_return;
        } catch (const timeout_error&) {
          throw reject{408};
        }
      }
      ++served;
      detail::server_request_state rs;
      rs.head = parser_.head();
      rs.remote = remote_;
      check_codings(rs.head);
      const bool is_head = rs.head.method == "HEAD";

      // ---- the body ----
      if (rs.head.expect_continue && in_.empty() &&
          (rs.head.chunked || rs.head.content_length.value_or(0) > 0)) {
        if (rs.head.content_length && *rs.head.content_length > o.max_body) throw reject{413};
        out_ += "HTTP/1.1 100 Continue\r\n\r\n";
      }
      bool fed = false;  // a message without a body reaches its end on an empty feed
      while (true) {
        detail::parse_result r{};
        if (!in_.empty() || !fed) {
          fed = true;
          r = parser_.feed(std::span<const char>(in_.data(), in_.size()));
          if (r.event == detail::parse_event::body) {
            rs.body.append(r.body.data(), r.body.size());
          }
          in_.erase(0, r.consumed);
          if (r.event == detail::parse_event::end) break;
          if (r.event == detail::parse_event::body) {
            fed = false;  // the end may come on an empty feed after the last body bytes
            continue;
          }
        }
        bool more = false;
        try {
          more = co_await read_more(steady::now() + o.body_timeout);
        } catch (const timeout_error&) {
          throw reject{408};
        }
        if (!more) {
          r = parser_.finish();  // throws for a body cut short
          if (r.event == detail::parse_event::end) break;
          co_return;
        }
      }
      parser_.reset();

      // ---- dispatch ----
      task<response> d = dispatch(rs);
      response res = co_await std::move(d);
      // After the handler: a stop() that came while it ran closes the connection too.
      const bool close = !rs.head.keep_alive || served >= o.keepalive_requests ||
                         st_->stopping.load(std::memory_order_acquire);
      append_response(out_, res, *st_, is_head, close);
      if (close) co_return;
    }
  }

  void check_codings(const detail::message_head& h) const {
    for (const auto& f : h.headers) {
      if (!iequal(f.name, "transfer-encoding")) continue;
      std::string_view v = f.value;
      while (!v.empty()) {
        const std::size_t comma = std::min(v.find(','), v.size());
        std::string_view item = v.substr(0, comma);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
          item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (!item.empty() && !iequal(item, "chunked")) throw reject{501};
        v.remove_prefix(std::min(comma + 1, v.size()));
      }
    }
  }

  task<response> dispatch(detail::server_request_state& rs) {
    const std::string& target = rs.head.target;
    const std::size_t q = target.find('?');
    rs.path = percent_decode(std::string_view(target).substr(0, q), false);
    if (q != std::string::npos) rs.query = target.substr(q + 1);
    for (const auto& f : rs.head.headers) rs.hdrs.emplace_back(f.name, f.value);
    const std::vector<std::string> segs = split_path(rs.path);

    std::string allow;
    const detail::route_entry* found = nullptr;
    for (const auto& rt : st_->routes) {
      if (rt.segments.size() != segs.size()) continue;
      std::vector<std::pair<std::string, std::string>> caps;
      bool ok = true;
      for (std::size_t i = 0; i < segs.size() && ok; ++i) {
        const std::string& p = rt.segments[i];
        if (p.size() >= 2 && p.front() == '{' && p.back() == '}') {
          if (segs[i].empty()) ok = false;
          else caps.emplace_back(p.substr(1, p.size() - 2), segs[i]);
        } else if (p != segs[i]) {
          ok = false;
        }
      }
      if (!ok) continue;
      const bool method_ok =
          rt.method == rs.head.method || (rs.head.method == "HEAD" && rt.method == "GET");
      if (method_ok) {
        found = &rt;
        rs.captures = std::move(caps);
        break;
      }
      if (allow.find(rt.method) == std::string::npos) {
        if (!allow.empty()) allow += ", ";
        allow += rt.method;
        if (rt.method == "GET" && allow.find("HEAD") == std::string::npos) allow += ", HEAD";
      }
    }
    if (found == nullptr) {
      if (allow.empty()) co_return plain(404, "Not Found\n");
      response r = plain(405, "Method Not Allowed\n");
      r.set_header("Allow", allow);
      co_return r;
    }
    request req;
    detail::server_request_state::attach(req, &rs);
    try {
      task<response> t = found->h(req);  // own statement: g++ 12 and co_await temporaries
      response r = co_await std::move(t);
      co_return r;
    } catch (const cancelled_error&) {
      throw;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "coreio http server: handler for %s %s threw: %s\n",
                   rs.head.method.c_str(), rs.path.c_str(), e.what());
    } catch (...) {
      std::fprintf(stderr, "coreio http server: handler for %s %s threw\n", rs.head.method.c_str(),
                   rs.path.c_str());
    }
    co_return plain(500, "Internal Server Error\n");
  }

  std::shared_ptr<detail::server_state> st_;
  net::tcp_stream s_;
  detail::parser parser_;
  std::string in_;
  std::string out_;
  std::string remote_;
};

}  // namespace

// ---- request ---------------------------------------------------------------------------------

std::string_view request::method() const noexcept { return s_->head.method; }
std::string_view request::target() const noexcept { return s_->head.target; }
std::string_view request::path() const noexcept { return s_->path; }
std::optional<std::string_view> request::header(std::string_view name) const noexcept {
  return s_->head.find(name);
}
const fields& request::headers() const noexcept { return s_->hdrs; }
std::optional<std::string> request::query(std::string_view name) const {
  std::string_view q = s_->query;
  while (!q.empty()) {
    const std::size_t amp = std::min(q.find('&'), q.size());
    const std::string_view item = q.substr(0, amp);
    const std::size_t eq = item.find('=');
    const std::string key = percent_decode(item.substr(0, eq), true);
    if (key == name) {
      return eq == std::string_view::npos ? std::string()
                                          : percent_decode(item.substr(eq + 1), true);
    }
    q.remove_prefix(std::min(amp + 1, q.size()));
  }
  return std::nullopt;
}
std::string_view request::body() const noexcept { return s_->body; }
task<std::span<const std::byte>> request::read_chunk() {
  if (s_->chunk_given) co_return std::span<const std::byte>{};
  s_->chunk_given = true;
  co_return std::as_bytes(std::span<const char>(s_->body.data(), s_->body.size()));
}
const std::string& request::remote() const noexcept { return s_->remote; }
std::string_view request::match(std::string_view name) const noexcept {
  for (const auto& [k, v] : s_->captures) {
    if (k == name) return v;
  }
  return {};
}

// ---- server ----------------------------------------------------------------------------------

server::server(const server_options& options) : s_(std::make_shared<detail::server_state>()) {
  s_->opts = options;
}

server::~server() { stop(); }

void server::route(std::string_view method, std::string_view pattern, handler h) {
  s_->routes.push_back(detail::route_entry{std::string(method), split_path(pattern), std::move(h)});
}

std::uint16_t server::bind(std::string_view host, std::uint16_t port) {
  net::listen_options lo{};
  lo.reuse_port = s_->opts.reuse_port;
  s_->listener = net::tcp_listener::bind(std::string(host), port, lo);
  return s_->listener.port();
}

namespace {
task<void> run_connection(std::shared_ptr<detail::server_state> st, net::tcp_stream s) {
  connection c(st, std::move(s));
  task<void> t = c.run();
  co_await std::move(t);
}
// Runs the connection as its own task, whose handle the drain can cancel.
task<void> track_connection(std::shared_ptr<detail::server_state> st, net::tcp_stream s) {
  task<void> t = run_connection(st, std::move(s));
  join_handle<void> h = spawn(std::move(t));
  std::uint64_t id = 0;
  {
    std::lock_guard lk(st->mu);
    id = st->next_id++;
    st->conns.emplace(id, &h);
  }
  try {
    co_await h;
  } catch (...) {
  }
  std::lock_guard lk(st->mu);
  st->conns.erase(id);
}
}  // namespace

task<void> server::serve() {
  std::shared_ptr<detail::server_state> st = s_;
  net::connection_handler on_conn = [st](net::tcp_stream s) {
    return track_connection(st, std::move(s));
  };
  net::serve_options so{};
  so.max_connections = st->opts.max_connections;
  {
    std::lock_guard lk(st->mu);
    st->net_srv.emplace(net::serve(std::move(st->listener), std::move(on_conn), so));
    if (st->stopping.load()) st->net_srv->stop();
  }
  co_await st->stopped.wait();
  net::server ns = *st->net_srv;
  try {
    task<void> drained = ns.wait();
    auto w = wait_for(std::move(drained), st->opts.drain_timeout);
    co_await std::move(w);
  } catch (const timeout_error&) {
    std::lock_guard lk(st->mu);
    for (auto& [id, h] : st->conns) h->cancel();
  }
  task<void> rest = ns.wait();
  co_await std::move(rest);
  // The net server holds the connection handler, which holds this state: break the cycle.
  std::lock_guard lk(st->mu);
  st->net_srv.reset();
}

void server::stop() {
  if (!s_) return;
  s_->stopping.store(true, std::memory_order_release);
  {
    std::lock_guard lk(s_->mu);
    if (s_->net_srv) s_->net_srv->stop();
  }
  s_->stopped.set();
}

}  // namespace coreio::http
