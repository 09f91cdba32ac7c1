// src/http/server.cpp — the HTTP/1.1 server's public face: request accessors, stream_response,
// routes, bind (one listener, or one per worker with reuse_port, and the TLS context), the accept
// loops of reuse_port, connection tracking, stop() and the graceful drain.
//
// stop(): (1) store `stopping` (seq_cst); (2) under the state mutex: stop the net server or cancel
// the reuse_port accept loops (the listeners close on their worker's loop at once), and claim and
// cancel every idle connection (the phase protocol in server_connection.cpp); (3) set `stopped`,
// which wakes serve(). serve() then waits for every connection up to drain_timeout, cancels what
// is left, and waits for that to unwind.
//
// reuse_port: bind() makes one SO_REUSEPORT listener per worker; serve() runs one accept loop per
// listener, loop i accepting onto worker i (tcp_listener::accept_on). Otherwise net::serve keeps
// the connections of one listener on its worker's loop (serve_options::spread, false).
#include <coreio/http/server.hpp>

#include <algorithm>
#include <exception>
#include <mutex>
#include <utility>

#include <coreio/errors.hpp>
#include <coreio/http/errors.hpp>
#include <coreio/spawn.hpp>
#include <coreio/time.hpp>
#include <coreio/wait_for.hpp>

#include "http/request_body.hpp"
#include "http/tcp_acked.hpp"
#include "net/sockets.hpp"
#include "runtime_impl.hpp"
#include "sched/histogram.hpp"
#include "server_connection.hpp"
#include "server_tasks.hpp"
#include "text.hpp"

namespace coreio::http {

using detail::percent_decode;
using detail::split_path;

// ---- request ---------------------------------------------------------------------------------

std::string_view request::method() const noexcept { return s_->head->method; }
std::string_view request::target() const noexcept { return s_->head->target; }
std::string_view request::path() const noexcept { return s_->path; }
std::optional<std::string_view> request::header(std::string_view name) const noexcept {
  return s_->head->find(name);
}
const fields& request::headers() const noexcept { return s_->head->headers; }
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
std::string_view request::body() const {
  if (s_->stream_body) {
    throw usage_error("http::request::body() on a stream_body route: use read_chunk() or read()");
  }
  return s_->body;
}
task<std::span<const std::byte>> request::read_chunk() {
  if (s_->stream_body) {
    task<std::span<const std::byte>> t = detail::read_body_piece(*s_);
    co_return co_await std::move(t);
  }
  if (s_->chunk_given) co_return std::span<const std::byte>{};
  s_->chunk_given = true;
  co_return std::as_bytes(std::span<const char>(s_->body.data(), s_->body.size()));
}
task<std::string> request::read() {
  std::string out;
  while (true) {
    task<std::span<const std::byte>> t = read_chunk();
    const std::span<const std::byte> piece = co_await std::move(t);
    if (piece.empty()) break;
    out.append(reinterpret_cast<const char*>(piece.data()), piece.size());
  }
  co_return out;
}
const std::string& request::remote() const noexcept { return *s_->remote; }
std::string_view request::match(std::string_view name) const noexcept {
  for (const auto& [k, v] : s_->captures) {
    if (k == name) return v;
  }
  return {};
}

// ---- stream_response -------------------------------------------------------------------------

stream_response::stream_response(int status) : status_(status) {
  if (status < 100 || status > 999) {
    throw usage_error("http::stream_response: status " + std::to_string(status) +
                      " is not a three-digit code");
  }
}

void stream_response::set_header(std::string_view name, std::string_view value) {
  if (prepared()) throw usage_error("http::stream_response::set_header after prepare()");
  detail::check_field(name, value);
  std::erase_if(headers_, [&](const auto& f) { return detail::iequals(f.first, name); });
  headers_.emplace_back(std::string(name), std::string(value));
}

void stream_response::add_header(std::string_view name, std::string_view value) {
  if (prepared()) throw usage_error("http::stream_response::add_header after prepare()");
  detail::check_field(name, value);
  headers_.emplace_back(std::string(name), std::string(value));
}

task<void> stream_response::prepare(request& req) {
  if (prepared()) throw usage_error("http::stream_response::prepare: already prepared");
  detail::server_request_state* rs = req.s_;
  task<void> t = detail::stream_prepare(*rs, status_, headers_);
  co_await std::move(t);
  req_ = rs;
}

task<void> stream_response::write(std::string_view data) {
  return write(std::as_bytes(std::span<const char>(data.data(), data.size())));
}

task<void> stream_response::write(std::span<const std::byte> data) {
  if (!prepared()) throw usage_error("http::stream_response::write before prepare()");
  task<void> t = detail::stream_write(*req_, data);
  co_await std::move(t);
}

task<void> stream_response::write_eof() {
  if (!prepared()) throw usage_error("http::stream_response::write_eof before prepare()");
  task<void> t = detail::stream_eof(*req_);
  co_await std::move(t);
}

// ---- server ----------------------------------------------------------------------------------

server::server(const server_options& options) : s_(std::make_shared<detail::server_state>()) {
  s_->opts = options;
  s_->all_closed.set();
  s_->sockets_closed.set();
}

server::~server() { stop(); }

server_stats server::stats() const noexcept { return s_->stats.snapshot(); }

namespace {

bool is_capture(std::string_view segment) noexcept {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

// The pattern's segments; throws usage_error naming the fault of a malformed one: a brace that is
// not the whole segment's "{name}", an empty or repeated capture name.
std::vector<std::string> pattern_segments(std::string_view pattern) {
  const auto bad = [&](const std::string& why) {
    return usage_error("http::server::route: invalid pattern '" + std::string(pattern) +
                       "': " + why);
  };
  if (pattern.empty() || pattern.front() != '/') throw bad("it must start with '/'");
  std::vector<std::string> segments = split_path(pattern);
  std::vector<std::string_view> names;
  for (const std::string& seg : segments) {
    const std::string_view s = seg;
    if (s.find_first_of("{}") == std::string_view::npos) continue;
    const std::string_view name = s.substr(1, s.size() >= 2 ? s.size() - 2 : 0);
    if (!is_capture(s) || name.find_first_of("{}") != std::string_view::npos) {
      throw bad("segment '" + seg + "' must be a literal or a whole {name}");
    }
    if (name.empty()) throw bad("a capture without a name");
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      throw bad("capture '" + std::string(name) + "' appears twice");
    }
    names.push_back(name);
  }
  return segments;
}

// Whether every request that `later` would match is matched by `earlier` first (the routes are
// tried in order; GET answers HEAD too).
bool shadows(const detail::route_entry& earlier, std::string_view method,
             const std::vector<std::string>& later) {
  if (earlier.method != method && !(method == "HEAD" && earlier.method == "GET")) return false;
  if (earlier.segments.size() != later.size()) return false;
  for (std::size_t i = 0; i < later.size(); ++i) {
    // A capture matches every non-empty segment; a literal only itself.
    const std::string& e = earlier.segments[i];
    const bool covered =
        is_capture(e) ? !later[i].empty() : (!is_capture(later[i]) && e == later[i]);
    if (!covered) return false;
  }
  return true;
}

}  // namespace

void server::route(std::string_view method, std::string_view pattern, handler h,
                   route_options options) {
  if (s_->served.load(std::memory_order_relaxed)) {
    throw usage_error("http::server::route after serve(): add routes before serving");
  }
  if (method.empty()) throw usage_error("http::server::route: empty method");
  if (!h) throw usage_error("http::server::route: empty handler");
  std::vector<std::string> segments = pattern_segments(pattern);
  for (const detail::route_entry& r : s_->routes) {
    if (shadows(r, method, segments)) {
      std::string earlier = r.method + " /";
      for (std::size_t i = 0; i < r.segments.size(); ++i) {
        earlier += (i == 0 ? "" : "/") + r.segments[i];
      }
      throw usage_error("http::server::route: " + std::string(method) + " " + std::string(pattern) +
                        " would never run: " + earlier + " is routed before it");
    }
  }
  std::string literal;
  if (std::none_of(segments.begin(), segments.end(), is_capture)) {
    for (const std::string& seg : segments) literal += "/" + seg;
  }
  s_->routes.push_back(detail::route_entry{std::string(method), std::move(segments),
                                           std::move(literal), std::move(h), options});
}

std::uint16_t server::bind(std::string_view host, std::uint16_t port) {
  if (s_->served.load(std::memory_order_relaxed)) {
    throw usage_error("http::server::bind after serve(): bind before serving");
  }
  if (!s_->listeners.empty()) {
    throw usage_error("http::server::bind: already bound to port " +
                      std::to_string(s_->listeners.front().port()) +
                      "; a server listens on one address");
  }
  const server_options& o = s_->opts;
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    throw http::error("http::server: tls_cert_file and tls_key_file must be set together");
  }
  if (!o.tls_cert_file.empty())
    s_->tls = detail::tls_context::server(o.tls_cert_file, o.tls_key_file);
  net::listen_options lo{};
  lo.reuse_port = o.reuse_port;
  std::size_t count = 1;
  if (o.reuse_port) {
    coreio::detail::runtime_impl* rt = coreio::detail::this_runtime();
    if (rt == nullptr) throw usage_error("http::server::bind outside a runtime");
    count = rt->worker_count();
  }
  s_->listeners.clear();
  s_->listeners.push_back(net::tcp_listener::bind(std::string(host), port, lo));
  const std::uint16_t bound = s_->listeners.front().port();
  for (std::size_t i = 1; i < count; ++i) {
    s_->listeners.push_back(net::tcp_listener::bind(std::string(host), bound, lo));
  }
  return bound;
}

namespace {

// Runs the connection as its own task, registered for stop() and the drain. counted: a
// reuse_port connection (st->live). This task and the connection's run under must_start
// (task.hpp): their bodies count the connection in and out even when cancelled before they run.
task<void> track_connection(std::shared_ptr<detail::server_state> st, net::tcp_stream s,
                            bool counted, semaphore_permit permit) {
  detail::conn_flags flags;
  flags.fd = coreio::detail::stream_access::impl(s)->fd;
  task<void> t = coreio::detail::must_start(detail::run_connection(st, std::move(s), &flags));
  join_handle<void> h = detail::spawn_server_task(std::move(t), detail::server_task::connection);
  std::uint64_t id = 0;
  {
    std::lock_guard lk(st->mu);
    id = st->next_id++;
    st->conns.emplace(id, detail::conn_entry{&h, &flags});
    // seq_cst: a stop() whose scan ran before this registration stored `stopping` first.
    int expected = detail::phase_idle;
    if (st->stopping.load(std::memory_order_seq_cst) &&
        flags.phase.compare_exchange_strong(expected, detail::phase_closing,
                                            std::memory_order_seq_cst)) {
      h.cancel();
    }
  }
  try {
    co_await h;
  } catch (...) {
  }
  permit.release();
  std::lock_guard lk(st->mu);
  st->conns.erase(id);
  if (counted && --st->live == 0) st->all_closed.set();
}

// The send deadline (server_options::send_timeout; server_connection.cpp, "Send deadline"): every
// quarter of it, stamps the writes under way it sees for the first time, stamps again those whose
// client took bytes since its last look, and cancels the connections whose stamp is send_timeout
// old. Until serve() cancels it.
task<void> send_sweeper(std::shared_ptr<detail::server_state> st) {
  const auto limit = std::chrono::duration_cast<std::chrono::nanoseconds>(st->opts.send_timeout);
  const auto period = std::max<std::chrono::nanoseconds>(limit / 4, std::chrono::milliseconds(1));
  while (true) {
    co_await sleep_for(period);
    const auto now = static_cast<std::int64_t>(coreio::detail::monotonic_ns());
    std::lock_guard lk(st->mu);
    for (auto& [id, c] : st->conns) {
      detail::conn_flags& f = *c.flags;
      // Relaxed: see conn_flags; the compare-exchanges claim the value this scan read. While it
      // is not 0 a write holds the socket open, so `fd` is the connection's (a write that ended
      // meanwhile changed the value, and the exchange fails whatever the reading was).
      std::int64_t since = f.write_since.load(std::memory_order_relaxed);
      if (since == 0) continue;
      const std::uint64_t acked = detail::tcp_bytes_acked(f.fd).value_or(f.acked_seen);
      const bool took = acked != f.acked_seen;
      f.acked_seen = acked;
      if (since == 1 || took) {
        f.write_since.compare_exchange_strong(since, now, std::memory_order_relaxed);
      } else if (now - since >= limit.count() &&
                 f.write_since.compare_exchange_strong(since, 0, std::memory_order_relaxed)) {
        st->stats.add(detail::server_counters::send_timeouts);
        c.task->cancel();
      }
    }
  }
}

bool transient_accept_error(const std::error_code& ec) {
  return ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system ||
         ec == std::errc::no_buffer_space || ec == std::errc::not_enough_memory ||
         ec == std::errc::connection_aborted;
}

// reuse_port: listener i accepts onto worker i. Spawned under must_start: a stop() before it first
// runs still closes the listener here.
task<void> accept_loop(std::shared_ptr<detail::server_state> st, std::size_t i) {
  net::tcp_listener& lis = st->listeners[i];
  try {
    // Relaxed: stop() also cancels this task; the flag only ends the loop between accepts.
    while (!st->stopping.load(std::memory_order_relaxed)) {
      net::tcp_stream s;
      std::error_code failure;
      try {
        s = co_await lis.accept_on(static_cast<int>(i));
      } catch (const std::system_error& e) {
        failure = e.code();
      }
      if (failure) {
        if (st->stopping.load(std::memory_order_relaxed) || !lis.is_open()) break;
        if (transient_accept_error(failure)) co_await sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      // The permit is taken after the accept, not before: each worker has a listener of its own
      // (SO_REUSEPORT), and the kernel puts a connection on any of them; a permit taken first
      // could wait at a listener with nothing queued while another's connection waited for it. So
      // a loop holds at most one accepted connection until a permit frees (FIFO, in the order
      // the loops accepted), as a listener's backlog would.
      semaphore_permit permit;
      if (st->conn_limit) permit = co_await st->conn_limit->acquire();
      {
        std::lock_guard lk(st->mu);
        if (st->live++ == 0) st->all_closed.clear();
      }
      try {
        spawn(
            coreio::detail::must_start(track_connection(st, std::move(s), true, std::move(permit))))
            .detach();
      } catch (...) {
        std::lock_guard lk(st->mu);
        if (--st->live == 0) st->all_closed.set();
      }
    }
  } catch (const cancelled_error&) {
  }
  lis.close();
}

// Until every connection has ended (the accept loops first).
task<void> all_ended(std::shared_ptr<detail::server_state> st) {
  if (st->net_srv) {
    net::server ns = *st->net_srv;
    co_await ns.wait();
    co_return;
  }
  std::vector<join_handle<void>> loops;
  {
    std::lock_guard lk(st->mu);
    loops = std::move(st->accept_loops);
  }
  for (auto& h : loops) {
    try {
      co_await h;
    } catch (...) {
    }
  }
  co_await st->all_closed.wait();
}

}  // namespace

task<void> server::serve() {
  std::shared_ptr<detail::server_state> st = s_;
  if (st->served.load(std::memory_order_relaxed)) {
    throw usage_error("http::server::serve: already served (a server serves once)");
  }
  if (st->listeners.empty()) throw usage_error("http::server::serve before bind()");
  if (!st->scratch) {
    coreio::detail::worker* w = coreio::detail::this_worker();
    if (w == nullptr) throw usage_error("http::server::serve outside a runtime");
    st->scratch = std::make_unique<detail::scratch_pool>(w->rt().worker_count(),
                                                         detail::request_limits(st->opts));
  }
  st->served.store(true, std::memory_order_relaxed);
  // The send deadline's sweeper, until serve() ends (cancelled on the way out, if it throws).
  join_handle<void> sweeper;
  // A send_timeout past the nanosecond clock's reach is none.
  constexpr auto reach =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::nanoseconds::max() / 2);
  if (st->opts.send_timeout.count() > 0 && st->opts.send_timeout < reach) {
    sweeper = detail::spawn_server_task(send_sweeper(st), detail::server_task::send_sweeper);
  }
  struct cancel_on_exit {
    join_handle<void>& h;
    ~cancel_on_exit() {
      if (h.valid()) h.cancel();
    }
  } sweeping{sweeper};
  if (!st->opts.reuse_port) {
    net::connection_handler on_conn = [st](net::tcp_stream s) {
      return track_connection(st, std::move(s), false, semaphore_permit{});
    };
    net::serve_options so{};
    so.max_connections = st->opts.max_connections;
    std::lock_guard lk(st->mu);
    st->net_srv.emplace(net::serve(std::move(st->listeners.front()), std::move(on_conn), so));
    st->listeners.clear();
    if (st->stopping.load(std::memory_order_seq_cst)) st->net_srv->stop();
  } else {
    if (st->opts.max_connections != 0) {
      st->conn_limit = std::make_unique<coreio::semaphore>(st->opts.max_connections);
    }
    std::lock_guard lk(st->mu);
    for (std::size_t i = 0; i < st->listeners.size(); ++i) {
      st->accept_loops.push_back(detail::spawn_server_task(
          coreio::detail::must_start(accept_loop(st, i)), detail::server_task::accept));
    }
    if (st->stopping.load(std::memory_order_seq_cst)) {
      for (auto& h : st->accept_loops) h.cancel();
    }
  }
  co_await st->stopped.wait();
  bool late = false;
  try {
    task<void> drained = all_ended(st);
    auto w = wait_for(std::move(drained), st->opts.drain_timeout);
    co_await std::move(w);
  } catch (const timeout_error&) {
    late = true;
  }
  if (late) {
    {
      std::lock_guard lk(st->mu);
      for (auto& [id, c] : st->conns) c.task->cancel();
    }
    task<void> rest = all_ended(st);
    co_await std::move(rest);
  }
  // The connections' tasks have ended; their descriptors close on their loops right after.
  co_await st->sockets_closed.wait();
  if (sweeper.valid()) {
    sweeper.cancel();
    try {
      co_await sweeper;
    } catch (const cancelled_error&) {
    }
  }
  // The net server holds the connection handler, which holds this state: break the cycle.
  std::lock_guard lk(st->mu);
  st->net_srv.reset();
  st->listeners.clear();
}

void server::stop() {
  if (!s_) return;
  // seq_cst: the store-then-load against each connection's idle store (the file comment).
  s_->stopping.store(true, std::memory_order_seq_cst);
  {
    std::lock_guard lk(s_->mu);
    if (s_->net_srv) s_->net_srv->stop();
    for (auto& h : s_->accept_loops) h.cancel();
    for (auto& [id, c] : s_->conns) {
      int expected = detail::phase_idle;
      if (c.flags->phase.compare_exchange_strong(expected, detail::phase_closing,
                                                 std::memory_order_seq_cst)) {
        c.task->cancel();
      }
    }
  }
  s_->stopped.set();
}

}  // namespace coreio::http