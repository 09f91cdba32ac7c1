// net/sockets.hpp — the implementation objects behind net::stream (tcp_stream, unix_stream), the
// listeners (tcp_listener, unix_listener) and udp_socket.
//
// A stream or a listener holds a socket of Asio's generic stream protocol, so that one
// implementation serves every stream protocol (TCP, Unix domain): the protocol is a run-time
// value (family, protocol number) fixed when the socket is opened. Each object is bound to its
// owner worker's io_context. A stream has at most one read and one write outstanding: its write
// (or connect) is an Asio operation aborted through write_sig, its read waits through its own
// reactor op (read_wait_op, below; protocol in stream.cpp). Every member is touched in steps of the
// owner's loop only (its loop token held, sched/worker.hpp, "Loop stealing"), except `owner`
// (immutable) and the atomics, whose comments say who touches them; a stream's read buffer belongs
// to the task that holds its read claim.
#pragma once

#include <asio/basic_socket_acceptor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/detail/reactor.hpp>
#include <asio/detail/reactor_op.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/post.hpp>

#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <span>
#include <string>

#include <coreio/detail/net_io.hpp>
#include <coreio/detail/timer_entry.hpp>
#include <coreio/net/endpoint.hpp>
#include <coreio/net/stream.hpp>

#include "net/read_buffer.hpp"
#include "runtime_impl.hpp"
#include "sched/worker.hpp"

namespace coreio::detail {

using generic_stream = asio::generic::stream_protocol;

#if !defined(ASIO_HAS_EPOLL) || defined(ASIO_HAS_IO_URING_AS_DEFAULT)
#error "coreio's stream read wait (read_wait_op) is written for Asio's epoll reactor"
#endif

struct stream_socket_impl;

/// A stream socket whose reactor registration the read wait can reach (Asio keeps it in the
/// socket's protected implementation).
class readiness_socket : public generic_stream::socket {
 public:
  explicit readiness_socket(generic_stream::socket&& s) : generic_stream::socket(std::move(s)) {}
  asio::detail::reactor::per_descriptor_data& reactor_data() {
    return impl_.get_implementation().reactor_data_;
  }

  /// The events epoll last reported for this descriptor (EPOLLIN, EPOLLERR, EPOLLHUP...), 0 before
  /// any. Asio's reactor stores them in the descriptor's state (its operation's task_result_, then
  /// passed to perform_io) each time epoll reports the descriptor, whether or not an operation
  /// waits on it; a later report of the same poll adds to them. A recycled state may hold its
  /// previous descriptor's (a needless recv at most: stream.cpp, step 6). A loop step.
  std::uint32_t reported_events() {
    const asio::detail::reactor::per_descriptor_data d = reactor_data();
    if (d == nullptr) return 0;
    // descriptor_state derives privately from scheduler_operation; a C-style cast converts a
    // pointer to an inaccessible base ([expr.cast]/4), and the accessor names the protected member.
    struct task_result_access : asio::detail::scheduler_operation {
      static unsigned int of(const asio::detail::scheduler_operation* op) noexcept {
        return op->*(&task_result_access::task_result_);
      }
    };
    return task_result_access::of((const asio::detail::scheduler_operation*)d);
  }
};

/// The stream's read wait: an operation queued on Asio's epoll reactor that completes at the
/// socket's next read edge, with no syscall of its own (protocol: stream.cpp, "Read readiness").
/// Asio's async_wait re-arms the descriptor with epoll_ctl each time, and its reads try a recv when
/// started; this one does neither: queued from inside start (`queuing_`) it reports not_done, so
/// the reactor only queues it; from the reactor's event processing it reports done. Embedded in
/// its socket and queued at most once at a time (read_wait_armed).
class read_wait_op : public asio::detail::reactor_op {
 public:
  explicit read_wait_op(stream_socket_impl* s)
      : reactor_op(asio::error_code(), &perform, &complete), s_(s) {}
  /// Queues the wait on the socket's reactor. A loop step.
  void start(asio::detail::reactor& reactor, readiness_socket& sock) {
    ec_ = asio::error_code();
    queuing_ = true;
    reactor.start_op(asio::detail::reactor::read_op, sock.native_handle(), sock.reactor_data(),
                     this, false, true);
    queuing_ = false;
  }

 private:
  static status perform(reactor_op* base) {
    return static_cast<read_wait_op*>(base)->queuing_ ? not_done : done;
  }
  /// owner is null when the loop is destroyed with the wait still queued.
  static void complete(void* owner, asio::detail::operation* base, const asio::error_code&,
                       std::size_t);

  stream_socket_impl* const s_;
  bool queuing_ = false;
};

/// A stream's read-deadline timer (src/net/stream.cpp, "Read deadlines"): an entry in its owner's
/// timer queue that knows its socket.
struct read_deadline_timer : timer_entry {
  stream_socket_impl* s = nullptr;
};

/// The read deadline's due step, posted to the owner's loop when the runtime's monitor fired the
/// entry (stream.cpp, "Read deadlines", step 2). Embedded in its socket so that posting cannot
/// fail for want of memory; queued at most once at a time (only while deadline_armed, and the
/// entry fires once per arm).
class read_deadline_due_op : public asio::detail::scheduler_operation {
 public:
  explicit read_deadline_due_op(stream_socket_impl* s) : scheduler_operation(&complete), s_(s) {}

 private:
  /// owner is null when the loop is destroyed with the step still queued.
  static void complete(void* owner, asio::detail::scheduler_operation* base,
                       const asio::error_code&, std::size_t);

  stream_socket_impl* const s_;
};

struct stream_socket_impl {
  stream_socket_impl(worker* w, generic_stream::socket s)
      : owner(w), sock(std::move(s)), reactor(asio::use_service<asio::detail::reactor>(w->io())) {
    // Non-blocking for the synchronous fast path (io_op::try_now); Asio's async operations manage
    // the descriptor's mode themselves either way.
    std::error_code ec;
    if (sock.is_open()) sock.non_blocking(true, ec);
    fd = sock.native_handle();
  }
  worker* const owner;
  readiness_socket sock;
  // The descriptor as opened (-1 before), for what only names it or peeks at it from a task
  // (wait sites, a keep-alive probe): sock's own copy changes in the close step, a loop step. Set
  // before the stream is published (constructor, open_stream_socket); read-only after.
  int fd = -1;
  // The owner's epoll reactor (the service behind sock's asynchronous operations).
  asio::detail::reactor& reactor;
  // Aborts the write or connect in flight (a read waits through read_wait instead).
  asio::cancellation_signal write_sig;
  // Set by close() on any thread before the close is handed to the owner's loop, so that is_open()
  // is false at once and never reads sock while a loop step may close it, and so that no send or
  // recv starts on `fd` off the loop once the close step may run (calls_off_loop). Seq_cst stores
  // in close() and close_descriptor (stream.cpp); acquire load in is_open(), seq_cst in try_write
  // and try_recv_off_loop.
  std::atomic<bool> closed{false};
  // Syscalls on `fd` running outside the loop token (stream.cpp, "Writes": sends, the FIN, and
  // "Read readiness", step 7: recvs): the close step waits for none to be running before it closes
  // the descriptor, which the kernel may then hand out again.
  std::atomic<std::uint32_t> calls_off_loop{0};
  // A read / a write is in flight (stream_claim). Any thread, RMW; acq_rel hands the direction, and
  // with the read direction the read buffer, from one task to the next.
  std::atomic<bool> reading{false}, writing{false};
  // shutdown_write() was called (stream.cpp, "Shutting down the write side"): writes refuse, and
  // the FIN goes out once no write is in flight. fin_sent: the one shutdown(2) was made.
  std::atomic<bool> write_shut{false}, fin_sent{false};
  // Bytes read ahead (read_until) or put back (a cancelled read_exact). Holder of `reading` only.
  read_buffer rbuf;
  // A failure put back by a read that lost a when_any (read_awaiter::give_back_failure): the next
  // read throws it, after the bytes in rbuf. Holder of `reading` only.
  std::exception_ptr read_failure;
  // Read readiness (protocol: stream.cpp, "Read readiness"). Written in loop steps only (the
  // owner's loop token held, sched/worker.hpp): reads start and complete in them, and so does the
  // poll whose reactor completes read_wait.
  // The receive queue may hold bytes, an end of stream or an error: a recv is worth trying.
  // Invariant: !readable implies read_wait_armed.
  // Atomic for readers off the loop: a read's recv off the loop (stream.cpp, "Read readiness",
  // step 7) and http's connection::reusable_now take it as a hint from any worker. Relaxed
  // everywhere: loop steps are ordered by the loop token; to those readers a stale true costs a
  // needless syscall, and a stale false sends a read to the loop or, to reusable_now, is a close
  // that came just after the look, the keep-alive race its retry covers.
  std::atomic<bool> readable{true};
  // A recv off the loop (stream.cpp, "Read readiness", step 7) left `readable` set though the
  // receive queue may be empty: reads off the loop leave the socket to the loop, and a readiness
  // wait there confirms with a peek. Cleared by the loop steps that set or clear `readable`.
  // Relaxed: either value is safe (a needless peek, or a read sent to the loop).
  std::atomic<bool> readable_unconfirmed{false};
  // read_wait is queued on the owner's reactor; its completion (on_readable) sets readable and
  // hands the readiness to read_waiter.
  bool read_wait_armed = false;
  read_wait_op read_wait{this};
  // The deleter ran while read_wait was queued or the deadline timer was firing: whichever of the
  // two ends last deletes the object.
  bool delete_on_wait_end = false;
  // Read deadlines (protocol: stream.cpp, "Read deadlines"). Loop steps only, but for the timer
  // entry's own claim. deadline_armed: the entry is in a timer queue (that of the worker whose
  // step armed it) at deadline_timer.deadline, or has fired and its due step has not run yet.
  read_deadline_timer deadline_timer;
  read_deadline_due_op deadline_due{this};
  bool deadline_armed = false;
  // The read suspended until the socket is readable (at most one: the read claim).
  io_op* read_waiter = nullptr;
  // TCP_INQ was asked for (on the first recv, a loop step) and granted: each recv reports what it
  // left queued. `inq` is read off the loop too: release store after the setsockopt, acquire load.
  bool inq_checked = false;
  std::atomic<bool> inq{false};
  // recv calls made on this socket (a probe for the tests). Written by the read claim's holder
  // (its recvs, on or off the loop) and by the loop step that completes its waiting read: each
  // ordered after the claim.
  std::uint64_t recv_calls = 0;
};

/// Sends s's FIN (shutdown(2) of the write side) unless it was sent; any thread (stream.cpp,
/// "Shutting down the write side").
void send_fin(stream_socket_impl* s) noexcept;

/// Deletes s on its owner's thread, or, if its read wait is still queued on the reactor, closes it
/// and leaves the delete to the wait's completion (which holds s). A loop step.
void delete_stream_socket_now(stream_socket_impl* s) noexcept;
template <class Impl>
void delete_now(Impl* p) noexcept {
  delete p;
}
inline void delete_now(stream_socket_impl* p) noexcept { delete_stream_socket_now(p); }

struct acceptor_impl {
  explicit acceptor_impl(worker* w) : owner(w), acc(w->io()) {}
  /// Removes the socket file of a Unix domain listener (unlink_path), if it is still the one bound.
  ~acceptor_impl();
  worker* const owner;
  asio::basic_socket_acceptor<generic_stream> acc;
  // The descriptor as listening (set by bind before the listener is published, read-only after):
  // what a task may name (wait sites) while the close step changes acc's own copy.
  int fd = -1;
  // The listening socket's address family and protocol, which an accepted socket shares (the fast
  // path, listener.cpp, builds the socket from them). Set with fd.
  int family = AF_UNSPEC;
  int protocol = 0;
  asio::cancellation_signal sig;
  // As stream_socket_impl::closed.
  std::atomic<bool> closed{false};
  // Unix domain listeners: the path bound. Set before the listener is published, read-only after.
  std::string path;
  // Unix domain listeners: the socket file to remove on close ("" for none), and its identity as
  // bound, so that a file someone else has since put at the path is left alone. Loop steps.
  std::string unlink_path;
  dev_t unlink_dev = 0;
  ino_t unlink_ino = 0;
  /// Puts the bound acc in the listening state, non-blocking (the accept fast path), and records
  /// fd, family and protocol. Before the listener is published. Throws std::system_error naming
  /// `where` (" on HOST:PORT").
  void listen(const generic_stream& proto, int backlog, const std::string& where);
  /// Closes acc and removes the socket file. A loop step; idempotent.
  void close_now() noexcept;
  /// A listener's close(): marks it closed at once and has the owner's loop run close_now().
  /// Any thread; idempotent.
  void close() noexcept;
  /// A listener's is_open(). Any thread.
  bool is_open() const noexcept;
};

struct udp_socket_impl {
  explicit udp_socket_impl(worker* w) : owner(w), sock(w->io()) {}
  worker* const owner;
  asio::ip::udp::socket sock;
  asio::cancellation_signal send_sig, recv_sig;
  // As stream_socket_impl::closed.
  std::atomic<bool> closed{false};
  // Sender of the datagram being received (one receive outstanding at a time).
  asio::ip::udp::endpoint recv_from;
};

/// What src/ may see of a stream beyond its public API.
struct stream_access {
  static worker* owner(const net::stream& s) noexcept { return s.impl_->owner; }
  static stream_socket_impl* impl(const net::stream& s) noexcept { return s.impl_.get(); }
  /// Gives a read_some not yet awaited a deadline: if it has to wait for bytes and none came by
  /// `t`, it throws timeout_error (stream.cpp, "Read deadlines"). Cheaper than wait_until around
  /// the read: no child task, and one timer entry per socket, re-armed only when it fires early.
  static void set_read_deadline(net::stream::read_awaiter& r,
                                std::chrono::steady_clock::time_point t) noexcept {
    r.deadline_ns = std::max<std::int64_t>(1, deadline_ns(t));
  }
  /// A wait until s may be readable (read_mode::readable): lets a caller that waits long for the
  /// next bytes (the HTTP server's keep-alive wait) take its read buffer only once they are there.
  /// Resumes with 0; a deadline may be set as for a read.
  static net::stream::read_awaiter wait_readable(net::stream& s) {
    return net::stream::read_awaiter(s, {}, read_mode::readable);
  }
  /// One non-blocking socket read into buf (non-empty) now, as read_some's fast path makes it
  /// (the task's budget allowing, this worker able to take the owner's loop token, the socket maybe
  /// readable), without an awaiter: the bytes (0: end of stream), or nullopt if it was not tried
  /// or would block, or bytes are buffered in the stream (then read_some). Claims the read
  /// direction for its run (usage_error if a read is in flight); a socket error throws
  /// std::system_error. For the read after wait_readable.
  static std::optional<std::size_t> try_read_now(net::stream& s, std::span<std::byte> buf);
};

/// The calling worker, or usage_error naming `what` on a thread that is not a worker.
worker* require_worker(const char* what);

/// Runs f on w's thread: inline if called there, else posted (fire and forget). For placement (a
/// task spawned where its socket lives); f must not touch an IO object (that is on_loop's).
template <class F>
void on_owner(worker* w, F&& f) {
  if (this_worker() == w) f();
  else w->post(std::forward<F>(f));
}

/// Runs f as a step of w's event loop (it touches an IO object of w): inline if this worker may
/// take w's loop token (loop_hold: the owner, or any worker while the loop is stale; see
/// sched/worker.hpp, "Loop stealing"), else posted (fire and forget).
template <class F>
void on_loop(worker* w, F&& f) {
  if (loop_hold h{w}) f();
  else w->post(std::forward<F>(f));
}

/// Reads an IO object's descriptor state with `read` if this worker may take w's loop token (only
/// loop steps change it); otherwise returns `otherwise`.
template <class F>
bool read_on_loop(worker* w, F&& read, bool otherwise) noexcept {
  if (loop_hold h{w}) return read();
  return otherwise;
}

/// Deletes an IO object on its owner's thread (Asio objects are not thread-safe): inline when called
/// there, else posted. If the post itself fails (out of memory), deletes here: with no operation
/// pending, closing from another thread is still safe.
template <class Impl>
void destroy_on_owner(Impl* p) noexcept {
  if (p == nullptr) return;
  // Always through the owner's loop, even on the owner: a close() queued there earlier from another
  // worker holds p and must run first (the loop runs posts in order). A worker polls pending posts
  // before it stops, so this runs during shutdown too.
  try {
    p->owner->post([p] { delete_now(p); });
  } catch (...) {
    delete_now(p);
  }
}

inline net::endpoint to_endpoint(const asio::ip::address& a, unsigned short port) {
  return net::endpoint{a.to_string(), port};
}

/// The IP address and port of a generic endpoint holding a sockaddr_in or sockaddr_in6.
net::endpoint to_endpoint(const generic_stream::endpoint& ep);

/// Parses text as a numeric address; throws std::system_error naming it otherwise.
asio::ip::address parse_address(const std::string& text);

/// The address a listener or a UDP socket binds: a numeric address, or "localhost" in any case
/// (host names are case-insensitive: RFC 4343) as 127.0.0.1. Throws std::system_error naming the
/// text otherwise (another name, "" — all interfaces is "0.0.0.0" or "::" — or a NUL byte).
asio::ip::address parse_bind_address(const std::string& host);

/// Throws std::system_error (invalid_argument) if a host name or address holds a NUL byte: the C
/// calls under resolve() and bind() read it as a C string, so "localhost\0.example" would be looked
/// up as "localhost" (CPython refuses such names too: "host name must not contain null character").
void check_host_text(const std::string& host);

/// A new stream socket of `protocol` on w's loop, open and non-blocking. Any worker's thread may
/// open one for any loop: Asio registers the descriptor with the loop's reactor under the
/// reactor's own mutex, as an accept onto another worker's loop does. Throws std::system_error
/// naming `what`.
stream_socket_ptr open_stream_socket(worker* w, const generic_stream& protocol, const char* what);

/// The worker whose loop a new socket goes to: worker `target` modulo the worker count of
/// fallback's runtime, or with a negative target `fallback` itself (connect_options::on_worker
/// with the calling worker, tcp_listener::accept_on with the listener's). Any thread.
worker* worker_for(int target, worker* fallback) noexcept;

/// Connects s to ep; the error, empty on success. Cancellable (cancelled_error).
///
/// The connect(2) is made by the connecting task, on whichever worker runs it (try_now, without
/// the owner's loop token: nothing else knows the socket yet), and a connection that is up at once
/// (loopback, where the handshake is done inside the call; a poll with no timeout tells) completes
/// there too. Otherwise the wait for it is a step of the owner's loop (start: writability, then
/// SO_ERROR). Made on the owner's loop, a client opening 100 connections to a local server made
/// them one after another on one thread while the others parked (about 40 us each on a 2-CPU VM:
/// 4 ms before the first request could go out); Asio's async_connect makes the call on the
/// initiating thread too.
class connect_op : public io_awaiter {
 public:
  connect_op(stream_socket_impl& s, const generic_stream::endpoint& ep);
  // Points into itself (arg): never moved.
  connect_op(connect_op&&) = delete;
  std::error_code await_resume() {
    finish();
    return ec;
  }

 private:
  generic_stream::endpoint ep_;
  // try_now's connect(2) is in progress: start waits for it instead of connecting (a second
  // connect would fail with EALREADY or EISCONN). Written by try_now, read by start, which follows
  // it in the same task's submit (io_submit orders the two).
  bool in_progress_ = false;
};

}  // namespace coreio::detail
