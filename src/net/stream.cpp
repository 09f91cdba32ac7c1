// net/stream.cpp — net::stream: the reads, writes and closing every stream protocol shares, and
// the helpers the protocols' connect and accept use (opening a socket, connect_op).
//
// Reading (protocol: read_buffer.hpp for the buffer, detail/io_op.hpp for one socket operation):
//   read_some:  claims the read direction (usage_error if a read is in flight); serves buffered
//               bytes without suspending if there are any; else one socket read straight into the
//               caller's span (a non-blocking recv when the socket may be readable: a loop step,
//               or off the loop, below; else a wait for readiness, then the recv).
//   read_exact: claims the read direction for its whole run; takes the buffered bytes, then reads
//               the socket straight into the caller's span until it is full. If it ends in any
//               error but end of stream (cancelled, timed out, reset), it puts the bytes it had
//               taken or read back in front of the buffer before rethrowing: the next read starts
//               with them. (A socket read that completed is never lost: io_op resumes the waiter
//               with its bytes even if a cancel raced with it; the cancel then hits the next read.)
//   read_until: claims the read direction for its whole run; looks for the delimiter in the buffer,
//               else fills the buffer with one socket read into its free space (at least a chunk)
//               and looks again. Nothing is consumed until the line is returned, so a cancel, an
//               overrun or the end of the stream leave every byte buffered.
// The claim (`reading`, acq_rel) hands the buffer from one reading task to the next.
//
// Read readiness (tokio's ScheduledIo on Asio's edge-triggered epoll reactor; every step is a step
// of the owner's loop, under its token (sched/worker.hpp, "Loop stealing"), as is every poll of
// the loop, the only thing that takes epoll's edges; so no poll comes between two steps of one
// holder; but for the recvs off the loop below, which change no step's state):
//   1. `readable` starts true: a read tries recv at once.
//   2. A recv that found the receive queue drained clears `readable` and, unless one is still
//      queued, queues the socket's read wait (read_wait_op, sockets.hpp) on the reactor, before the
//      loop turns again. Drained: the recv would block, or (TCP) TCP_INQ reports nothing left, not
//      even an end of stream. A short read alone does not say so: an end of stream queued behind
//      the bytes makes no edge of its own, and Asio registers no EPOLLRDHUP (tokio keeps a sticky
//      read-closed bit from it); so a Unix stream, without TCP_INQ, waits only after a recv that
//      would block. Bytes that arrive after that recv make an edge that epoll reports at the loop's
//      next turn, and the queued wait takes it; an edge that came before it is still pending in
//      epoll then (no turn came between), and a queued wait has taken no edge since it was queued.
//      So no edge is lost; an edge whose bytes a recv took first costs one recv that would block.
//   3. A read that finds `readable` clear suspends as the socket's read_waiter (no syscall).
//   4. The wait's completion sets `readable` and does the waiter's recv (back to 2 if it would
//      block). A cancelled read leaves the wait queued; closing the socket aborts it.
//   5. A readiness wait (read_mode::readable, stream_access::wait_readable) is a read of no bytes
//      that makes no recv: it ends where a read would make its recv (readable set), and the
//      caller's read follows (stream_access::try_read_now: read_some's fast path, no awaiter).
//      So a wait then a read costs the syscalls of one read, and the caller needs no buffer while
//      it waits.
//   6. A reset is not counted by TCP_INQ (a FIN is), and when the loop takes the bytes and the
//      reset in one edge (they came together, or the reset came before the loop turned), the
//      recv that takes the bytes finds the queue "drained", and a wait for the next edge would
//      wait for ever (a reading task hung until its deadline, or for ever without one). So a
//      drained recv keeps `readable` when epoll's last report for the socket had EPOLLERR or
//      EPOLLHUP (readiness_socket::reported_events: Asio keeps each report in the descriptor's
//      state, whether an operation waited or not), and the next recv reports the reset. A reset
//      reported later comes as an edge of its own, which the queued wait takes. Reading the
//      report costs no syscall.
//   7. Reads off the loop. A task that runs on a worker which cannot take the owner's token (a
//      thief, stolen from the owner's run queue) reads without a loop step while `readable` is set
//      and not marked unconfirmed (try_recv_off_loop): its recv, guarded against the close as a
//      send is ("Writes": calls_off_loop), never clears `readable`, which needs the wait queued
//      before the loop turns (step 2). A recv that may have drained the queue (TCP_INQ reports
//      nothing left, or no report, or it would block) marks the readiness unconfirmed instead;
//      then reads off the loop decline, the loop's next read makes its recv, and a readiness wait
//      on the loop (step 5) confirms with a one-byte peek (MSG_PEEK), clearing `readable` and
//      queueing the wait if nothing is there. A new edge (step 4) and a clear unmark it. So
//      `readable` stays true whenever bytes may be queued, as before, and the mark only costs a
//      syscall. Why: at 1,000 keep-alive connections the HTTP server's second worker steals
//      requests woken by the owner's readiness waits; their reads, loop steps, went back to the
//      owner's loop, and the thief had done nothing but hand over (docs/benchmarks.md,
//      2026-12-05). Now it serves them.
// So a TCP ping-pong costs one recv per message and no other syscall. (Asio's async_read_some cost
// two: its reactor stops its speculative recv only after end of stream, so each start made a recv
// that failed; its async_wait costs an epoll_ctl per wait instead.) The wait lives in the socket
// object: a socket deleted while its wait is queued is closed, and the wait's aborted completion
// deletes it.
//
// Writes (write_all). The fast path is one non-blocking send on the descriptor, tried by the
// writing task on whichever worker runs it, without the owner's loop token (io_op's
// try_now_anywhere): a task stolen from the owner does not hand its write to the owner's loop, and
// a worker that the OS deschedules inside the send (the peer's wake-up is a likely place for
// that) holds no loop. A send that would block, or leaves part of the buffer, hands the rest to the
// loop (asio's async_write waits for the write edge there). The send names `fd`, which the close
// step frees for reuse by the kernel; so:
//   - the sender counts itself in (calls_off_loop, seq_cst), then reads `closed` (seq_cst): set,
//     it leaves the write to the loop step, which reports the closed socket;
//   - the close step and the deleter set `closed` (seq_cst) and wait until calls_off_loop is 0
//     (close_descriptor) before they close the descriptor.
// By the seq_cst order, either the sender sees `closed` or the close step sees the sender. The
// wait is short (one non-blocking send) unless the sender was descheduled inside it, and happens
// only when a stream is closed while another task writes to it.
//
// Shutting down the write side (shutdown_write, asyncio's write_eof). The FIN follows every byte of
// the writes before it, and nothing is written after it:
//   - shutdown_write sets `write_shut` (seq_cst), then reads `writing` (seq_cst): a write in flight
//     (another task's write_all still sending) sends the FIN when it ends; else it sends it now,
//     from the calling thread, before it returns (no hop to the loop that a later write, sent
//     from whichever worker runs it, could overtake);
//   - a write's end stores `writing` false (seq_cst), then reads `write_shut` (seq_cst) and, set,
//     sends the FIN;
//   by the seq_cst order one of the two sees the other; both may, and `fin_sent` (exchange) makes
//   the syscall once. A write_all begun after shutdown_write throws usage_error (asyncio:
//   RuntimeError, "Cannot call write() after write_eof()"). The shutdown(2) names `fd` as a send
//   does (calls_off_loop, above).
//
// Read deadlines (a read_some given one through stream_access::set_read_deadline: the HTTP server's
// header, body and keep-alive waits). wait_until around each read armed and erased a timer and ran
// the read as a child task, per read; a connection that reads with a deadline every request and
// whose deadlines only move later needs neither. Each socket has one timer entry
// (deadline_timer), armed lazily; every step is a loop step (the owner's token held), except the
// entry's own claim:
//   1. A read that suspends (start_read, read_waiter set) with a deadline D arms the entry at D if
//      it is not armed (in the timer queue of the worker running the step); if it is armed later
//      than D, takes it back (timer_claim_cancelled, then erase) and arms it at D; if it is armed
//      at or before D, leaves it.
//   2. The entry fires (its on_done on the thread that won it: a worker, or the runtime's monitor
//      when that worker is stuck in a long poll) and the due step runs as a loop step: inline if
//      that thread can take the loop's token, else posted to the loop. If a read with a deadline
//      is waiting and its deadline has
//      passed, the read ends with std::errc::timed_out (read_awaiter throws timeout_error); if its
//      deadline is later (the deadline moved since the arm), the entry is armed again at it; with
//      no such read waiting the entry stays unarmed until step 1.
//   3. Deleting the socket takes the entry back; if that claim loses, the entry has fired and its
//      due step is on its way: the object is deleted by whichever of that step and the read
//      wait's completion ends last (delete_on_wait_end).
// A deadline is checked only while a read waits: bytes that are already there are returned, as
// wait_until returned a read that completed without suspending.
#include <coreio/net/stream.hpp>

#include <asio/write.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <string_view>
#include <thread>

#include "net/io.hpp"
#include "net/sockets.hpp"
#include "runtime_impl.hpp"

namespace coreio::detail {

worker* require_worker(const char* what) {
  worker* w = this_worker();
  if (w == nullptr) throw_usage(what);
  return w;
}

void check_host_text(const std::string& host) {
  if (host.find('\0') == std::string::npos) return;
  std::string shown;
  for (const char c : host) shown += c == '\0' ? std::string("\\0") : std::string(1, c);
  throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                          "coreio::net: a host name must not contain a NUL byte: '" + shown + "'");
}

asio::ip::address parse_address(const std::string& text) {
  check_host_text(text);
  std::error_code ec;
  asio::ip::address a = asio::ip::make_address(text, ec);
  if (ec) {
    throw std::system_error(normalize_error(ec),
                            "coreio::net: not a numeric address: '" + text + "'");
  }
  return a;
}

asio::ip::address parse_bind_address(const std::string& host) {
  check_host_text(host);
  constexpr std::string_view local = "localhost";
  const bool is_local = host.size() == local.size() &&
                        std::equal(host.begin(), host.end(), local.begin(), [](char a, char b) {
                          return (a >= 'A' && a <= 'Z' ? a + 32 : a) == b;
                        });
  std::error_code ec;
  asio::ip::address a = asio::ip::make_address(is_local ? "127.0.0.1" : host, ec);
  if (ec) {
    throw std::system_error(normalize_error(ec),
                            "coreio::net: a bind address must be numeric or localhost (all "
                            "interfaces: 0.0.0.0 or ::): '" +
                                host + "'");
  }
  return a;
}

net::endpoint to_endpoint(const generic_stream::endpoint& ep) {
  const sockaddr* sa = ep.data();
  if (sa->sa_family == AF_INET6) {
    asio::ip::tcp::endpoint ip;
    std::memcpy(ip.data(), sa, sizeof(sockaddr_in6));
    return to_endpoint(ip.address(), ip.port());
  }
  if (sa->sa_family == AF_INET) {
    asio::ip::tcp::endpoint ip;
    std::memcpy(ip.data(), sa, sizeof(sockaddr_in));
    return to_endpoint(ip.address(), ip.port());
  }
  return {};
}

void destroy_stream_socket(stream_socket_impl* p) noexcept { destroy_on_owner(p); }

namespace {

/// Closes s's descriptor once no send runs on it outside the loop token ("Writes"): sets `closed`
/// (seq_cst: see try_write; close() has set it already, the deleter has not), waits for the sends
/// in flight, then closes. A loop step.
void close_descriptor(stream_socket_impl* s) noexcept {
  s->closed.store(true, std::memory_order_seq_cst);
  // Acquire: pairs with try_write's release decrement (the send is over before we close).
  while (s->calls_off_loop.load(std::memory_order_acquire) != 0) std::this_thread::yield();
  std::error_code ec;
  s->sock.close(ec);
}

}  // namespace

void delete_stream_socket_now(stream_socket_impl* s) noexcept {
  if (s->deadline_armed && timer_claim_cancelled(&s->deadline_timer)) {
    timer_erase(&s->deadline_timer);
    s->deadline_armed = false;
  }
  if (!s->read_wait_armed && !s->deadline_armed) {
    delete s;
    return;
  }
  // The queued wait's handler, or the fired deadline's due step, holds s: closing aborts the wait;
  // the last of the two deletes s ("Read deadlines", step 3).
  s->delete_on_wait_end = true;
  close_descriptor(s);
}

void stream_claim(stream_socket_impl* s, bool write) {
  std::atomic<bool>& flag = write ? s->writing : s->reading;
  // acq_rel: the previous holder's use of the direction (and, reading, of the buffer)
  // happens-before ours; pairs with the release store in stream_unclaim.
  if (flag.exchange(true, std::memory_order_acq_rel)) {
    throw_usage(
        write ? "coreio::net: a second write on a stream while one is in flight (one at a time)"
              : "coreio::net: a second read on a stream while one is in flight (one at a time)");
  }
}

void send_fin(stream_socket_impl* s) noexcept {
  // Relaxed: only picks the one caller that makes the syscall; ordering comes from the protocol's
  // seq_cst pair ("Shutting down the write side").
  if (s->fin_sent.exchange(true, std::memory_order_relaxed)) return;
  // As try_write: counted in before `closed` is read, so the close step waits for this syscall.
  s->calls_off_loop.fetch_add(1, std::memory_order_seq_cst);
  if (!s->closed.load(std::memory_order_seq_cst)) ::shutdown(s->fd, SHUT_WR);
  // Release: our use of the descriptor happens-before close_descriptor's acquire load.
  s->calls_off_loop.fetch_sub(1, std::memory_order_release);
}

void stream_unclaim(stream_socket_impl* s, bool write) noexcept {
  if (!write) {
    // Release: our use of the direction happens-before the next claim (its acq_rel exchange).
    s->reading.store(false, std::memory_order_release);
    return;
  }
  // Seq_cst (release included), then the seq_cst load: the write's half of the pair with
  // shutdown_write ("Shutting down the write side").
  s->writing.store(false, std::memory_order_seq_cst);
  if (s->write_shut.load(std::memory_order_seq_cst)) send_fin(s);
}

stream_socket_ptr open_stream_socket(worker* w, const generic_stream& protocol, const char* what) {
  stream_socket_ptr s(new stream_socket_impl(w, generic_stream::socket(w->io())));
  std::error_code ec;
  s->sock.open(protocol, ec);
  if (!ec) s->sock.non_blocking(true, ec);  // the fast path must never block the worker
  if (ec) throw std::system_error(normalize_error(ec), what);
  s->fd = s->sock.native_handle();
  return s;
}

worker* worker_for(int target, worker* fallback) noexcept {
  if (target < 0) return fallback;
  runtime_impl& rt = fallback->rt();
  return &rt.worker_at(static_cast<std::uint32_t>(target) % rt.worker_count());
}

namespace {

/// How a connect(2) in progress on fd ended, once the socket is writable: SO_ERROR (empty:
/// connected), in the system category as normalize_error gives Asio's codes.
std::error_code connect_outcome(int fd) noexcept {
  int so_error = 0;
  socklen_t len = sizeof so_error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) so_error = errno;
  return so_error == 0 ? std::error_code{} : std::error_code(so_error, std::system_category());
}

}  // namespace

connect_op::connect_op(stream_socket_impl& s, const generic_stream::endpoint& ep) : ep_(ep) {
  owner = s.owner;
  target = &s;
  abort_ctx = &s.write_sig;
  arg = &ep_;
  site = &wait_sites::socket_connect;
  try_now = [](io_op* op) {
    auto* self = static_cast<connect_op*>(op);
    const int fd = static_cast<stream_socket_impl*>(op->target)->fd;
    op->bytes = 0;
    if (::connect(fd, self->ep_.data(), static_cast<socklen_t>(self->ep_.size())) == 0) {
      op->ec = {};
      return true;
    }
    const int err = errno;
    // Not under way (a Unix socket's listener has a full backlog): start connects.
    if (err == EAGAIN) return false;
    // EINTR is under way too (POSIX: the connection is then established asynchronously).
    if (err != EINPROGRESS && err != EINTR) {
      op->ec = std::error_code(err, std::system_category());
      return true;
    }
    self->in_progress_ = true;
    pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
    if (::poll(&p, 1, 0) != 1) return false;  // still under way: start waits on the loop
    op->ec = connect_outcome(fd);
    return true;
  };
  try_now_anywhere = true;
  start = [](io_op* op) {
    auto* s = static_cast<stream_socket_impl*>(op->target);
    if (!static_cast<connect_op*>(op)->in_progress_) {
      auto& ep = *static_cast<const generic_stream::endpoint*>(op->arg);
      s->sock.async_connect(
          ep, asio::bind_cancellation_slot(s->write_sig.slot(), [op](const std::error_code& ec) {
            io_complete(op, ec, 0);
          }));
      return;
    }
    // try_now's connect is under way: it has ended when the socket is writable (RFC 793's
    // handshake done, or failed: SO_ERROR says which), as Asio's own connect wait decides.
    s->sock.async_wait(
        asio::socket_base::wait_write,
        asio::bind_cancellation_slot(s->write_sig.slot(), [op, s](const std::error_code& ec) {
          io_complete(op, ec ? ec : connect_outcome(s->fd), 0);
        }));
  };
  abort = &abort_by_signal;
}

namespace {

bool try_recv(io_op* op);

/// Clears the socket's read readiness after a recv on this thread found its receive queue empty
/// (would block) or drained (a short read), and makes sure a wait for the next edge is queued.
/// Must follow that recv with no event-loop turn between (file comment, "Read readiness").
void clear_readable(stream_socket_impl* s);

/// The read wait's handler: the socket became readable (an edge), or the wait was aborted (the
/// socket closed). Hands the readiness to the suspended read, if any. A loop step.
void on_readable(stream_socket_impl* s, const std::error_code& ec) noexcept {
  s->read_wait_armed = false;
  if (s->delete_on_wait_end) {
    if (!s->deadline_armed) delete s;
    return;
  }
  // An abort (the socket was closed) leaves readable set as well: the next recv reports it.
  s->readable.store(true, std::memory_order_relaxed);
  s->readable_unconfirmed.store(false, std::memory_order_relaxed);  // an edge: something came
  io_op* op = s->read_waiter;
  if (op == nullptr) return;
  s->read_waiter = nullptr;
  if (ec) {
    io_complete(op, ec, 0);
    return;
  }
  if (!try_recv(op)) {
    s->read_waiter = op;  // a stale edge: try_recv queued a new wait
    return;
  }
  io_complete(op, op->ec, op->bytes);
}

void clear_readable(stream_socket_impl* s) {
  s->readable.store(false, std::memory_order_relaxed);
  s->readable_unconfirmed.store(false, std::memory_order_relaxed);
  if (s->read_wait_armed) return;  // still queued: it has seen no edge since it was armed
  s->read_wait_armed = true;
  s->read_wait.start(s->reactor, s->sock);
}

/// After a recv that TCP_INQ says left nothing queued (step 2): clears the readiness unless epoll
/// last reported an error or a hang-up, which TCP_INQ does not count (step 6). A loop step.
void drained(stream_socket_impl* s) {
  if ((s->sock.reported_events() & (EPOLLERR | EPOLLHUP)) != 0) return;  // the next recv tells
  clear_readable(s);
}

/// Asks once per socket for TCP_INQ (Linux: each recvmsg then reports the bytes it left queued,
/// and 1 when none are left but the end of stream is). Not TCP (a Unix stream): refused. A loop
/// step.
bool has_inq(stream_socket_impl* s) {
  if (!s->inq_checked) {
    s->inq_checked = true;
    int one = 1;
    // Release: a reader off the loop that sees true sees the option set (its acquire load).
    s->inq.store(::setsockopt(s->sock.native_handle(), IPPROTO_TCP, TCP_INQ, &one, sizeof one) == 0,
                 std::memory_order_release);
  }
  return s->inq.load(std::memory_order_relaxed);
}

/// The result of one recvmsg into op's buffer (recv_once).
struct recv_result {
  ssize_t n;  // as recvmsg: bytes, 0 at the end of stream, -1 with `err`
  int err;    // errno when n < 0
  int left;   // TCP_INQ's report (bytes left queued, 1 for an end of stream); -1: none
};

/// One non-blocking recvmsg on `fd` into op's buffer, asking for TCP_INQ's report if `inq`.
recv_result recv_once(stream_socket_impl* s, int fd, io_op* op, bool inq) {
  iovec iov{op->buf, op->len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (inq) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
  }
  recv_result r{0, 0, -1};
  do {
    ++s->recv_calls;
    r.n = ::recvmsg(fd, &msg, 0);
  } while (r.n < 0 && errno == EINTR);
  if (r.n < 0) {
    r.err = errno;
    return r;
  }
  if (inq && r.n > 0) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_TCP && c->cmsg_type == TCP_CM_INQ) {
        std::memcpy(&r.left, CMSG_DATA(c), sizeof r.left);
      }
    }
  }
  return r;
}

/// Stores a completed recv's outcome (bytes, end of stream or an error) in op.
void store_recv(io_op* op, const recv_result& r) {
  if (r.n < 0) {
    op->ec = std::error_code(r.err, std::system_category());
    op->bytes = 0;
    return;
  }
  op->ec = r.n == 0 ? std::error_code(asio::error::eof) : std::error_code();
  op->bytes = static_cast<std::size_t>(r.n);
}

bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

/// A readiness wait's check (read_mode::readable) on a socket whose readiness a read off the loop
/// left unconfirmed: a one-byte peek; nothing there clears the readiness and queues the wait, as a
/// recv that would block does (step 2). True: bytes, an end of stream or an error are there.
/// A loop step.
bool confirm_readable(stream_socket_impl* s) {
  s->readable_unconfirmed.store(false, std::memory_order_relaxed);
  std::byte b;
  ssize_t n;
  do {
    ++s->recv_calls;
    n = ::recv(s->sock.native_handle(), &b, 1, MSG_PEEK);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && would_block(errno)) {
    clear_readable(s);
    return false;
  }
  return true;
}

/// One non-blocking recv into op's buffer, a loop step, if the socket may be readable. True: it
/// completed (bytes, end of stream or an error in op); false: it would block (a wait is queued).
bool try_recv(io_op* op) {
  auto* s = static_cast<stream_socket_impl*>(op->target);
  if (!s->readable.load(std::memory_order_relaxed)) return false;
  if (op->len == 0) {  // a readiness wait (read_mode::readable): the caller's read follows
    if (s->readable_unconfirmed.load(std::memory_order_relaxed) && !confirm_readable(s)) {
      return false;
    }
    op->ec = {};
    op->bytes = 0;
    return true;
  }
  const recv_result r = recv_once(s, s->sock.native_handle(), op, has_inq(s));
  if (r.n < 0 && would_block(r.err)) {
    clear_readable(s);
    return false;
  }
  store_recv(op, r);
  // Drained: TCP_INQ says nothing is left, not even the end of stream (file comment, step 2).
  // Without TCP_INQ only a recv that would block says so: a short read may leave an end of stream
  // queued behind its bytes, which makes no edge of its own.
  if (r.left == 0) drained(s);
  // Bytes or the end of stream left (TCP_INQ): the readiness is confirmed for reads off the loop.
  if (r.left > 0) s->readable_unconfirmed.store(false, std::memory_order_relaxed);
  return true;
}

/// read_some's fast path on a worker that cannot take the loop token ("Read readiness", step 7): a
/// recv if the socket's readiness is set and confirmed. Changes no loop state: a recv that drained
/// the queue or would block leaves `readable` set, marked unconfirmed. False: declined (no
/// syscall) or it would block; the start, a loop step, reads then.
bool try_recv_off_loop(io_op* op) {
  auto* s = static_cast<stream_socket_impl*>(op->target);
  // Relaxed: hints ("Read readiness", step 7); the loop's recv decides when these are stale.
  if (!s->readable.load(std::memory_order_relaxed) ||
      s->readable_unconfirmed.load(std::memory_order_relaxed)) {
    return false;
  }
  if (op->len == 0) {  // a readiness wait: readable since the last edge or recv on the loop
    op->ec = {};
    op->bytes = 0;
    return true;
  }
  // As try_write: counted in before `closed` is read, so the close step waits for this syscall.
  s->calls_off_loop.fetch_add(1, std::memory_order_seq_cst);
  if (s->closed.load(std::memory_order_seq_cst)) {
    s->calls_off_loop.fetch_sub(1, std::memory_order_release);
    return false;
  }
  // Acquire: pairs with has_inq's release store (true: the option is set on the socket).
  const recv_result r = recv_once(s, s->fd, op, s->inq.load(std::memory_order_acquire));
  // Release: our use of the descriptor happens-before close_descriptor's acquire load.
  s->calls_off_loop.fetch_sub(1, std::memory_order_release);
  // Unless TCP_INQ reports something left (bytes, or an end of stream), the queue may be empty
  // now, and only a loop step may clear the readiness (step 2).
  if (r.left <= 0) s->readable_unconfirmed.store(true, std::memory_order_relaxed);
  if (r.n < 0 && would_block(r.err)) return false;
  store_recv(op, r);
  return true;
}

steady_clock::time_point from_ns(std::int64_t ns) {
  return steady_clock::time_point(
      std::chrono::duration_cast<steady_clock::duration>(std::chrono::nanoseconds(ns)));
}

void read_deadline_fired(timer_entry* e, bool fired) noexcept;

/// Inserts the socket's deadline entry, not armed, into this worker's timer queue at `at`.
/// A loop step.
void insert_read_deadline(stream_socket_impl* s, steady_clock::time_point at) {
  read_deadline_timer& t = s->deadline_timer;
  t.deadline = at;
  t.s = s;
  t.on_done = &read_deadline_fired;
  // Relaxed: the entry is in no queue; the queue's lock publishes it to firers (timer_entry.hpp).
  t.state.store(timer_entry::pending, std::memory_order_relaxed);
  s->deadline_armed = true;
  timer_insert(&t);
}

/// Step 1 of "Read deadlines": the entry fires at or before the waiting read's deadline. A loop
/// step.
void arm_read_deadline(stream_socket_impl* s, std::int64_t deadline) {
  const steady_clock::time_point at = from_ns(deadline);
  if (!s->deadline_armed) {
    insert_read_deadline(s, at);
    return;
  }
  if (s->deadline_timer.deadline <= at) return;            // fires early and re-arms (step 2)
  if (!timer_claim_cancelled(&s->deadline_timer)) return;  // fired: its due step re-arms
  timer_erase(&s->deadline_timer);
  insert_read_deadline(s, at);
}

/// Step 2 of "Read deadlines", a loop step.
void read_deadline_due(stream_socket_impl* s) noexcept {
  s->deadline_armed = false;
  if (s->delete_on_wait_end) {
    if (!s->read_wait_armed) delete s;
    return;
  }
  io_op* op = s->read_waiter;
  if (op == nullptr || op->deadline_ns == 0) return;
  const steady_clock::time_point at = from_ns(op->deadline_ns);
  if (at <= steady_clock::now()) {
    s->read_waiter = nullptr;
    io_complete(op, std::make_error_code(std::errc::timed_out), 0);
    return;
  }
  try {
    insert_read_deadline(s, at);
  } catch (...) {
    // Out of memory growing the heap: the read waits without its deadline rather than not at all.
    s->deadline_armed = false;
  }
}

/// The deadline entry's on_done (it is only ever taken back by claim and erase, so `fired`).
void read_deadline_fired(timer_entry* e, bool) noexcept {
  stream_socket_impl* s = static_cast<read_deadline_timer*>(e)->s;
  if (loop_hold h{s->owner}) {
    read_deadline_due(s);
    return;
  }
  // The monitor fired it, or another worker holds the loop: the step runs as a loop step.
  s->owner->post_op(&s->deadline_due);
}

/// read_some's start, a loop step (its fast path, try_recv, has failed just before): waits for
/// the read wait's edge, unless the socket became readable since (a start posted from another
/// worker, whose own try_recv ran here first).
void start_read(io_op* op) {
  auto* s = static_cast<stream_socket_impl*>(op->target);
  if (try_recv(op)) {
    io_complete(op, op->ec, op->bytes);
    return;
  }
  s->read_waiter = op;
  if (op->deadline_ns != 0) arm_read_deadline(s, op->deadline_ns);
}

/// read_some's abort (a cancel step, a loop step): completes the suspended read as aborted.
void abort_read(io_op* op) {
  auto* s = static_cast<stream_socket_impl*>(op->target);
  if (s->read_waiter != op) return;  // completed meanwhile
  s->read_waiter = nullptr;
  io_complete(op, asio::error::operation_aborted, 0);
}

/// write_all's fast path, on any worker without the loop token ("Writes"): a non-blocking send;
/// a partial write narrows the op to the rest.
bool try_write(io_op* op) {
  auto* s = static_cast<stream_socket_impl*>(op->target);
  // Seq_cst, with close_descriptor's seq_cst store of `closed` before its wait: either the close
  // step sees this send in flight and waits for it, or we see the close and leave the write to the
  // loop step, which reports the closed socket.
  s->calls_off_loop.fetch_add(1, std::memory_order_seq_cst);
  if (s->closed.load(std::memory_order_seq_cst)) {
    s->calls_off_loop.fetch_sub(1, std::memory_order_release);
    return false;
  }
  ssize_t n;
  do {
    n = ::send(s->fd, op->arg, op->len, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  const int err = n < 0 ? errno : 0;
  // Release: our use of the descriptor happens-before close_descriptor's acquire load.
  s->calls_off_loop.fetch_sub(1, std::memory_order_release);
  if (n < 0 && (err == EAGAIN || err == EWOULDBLOCK)) return false;
  if (n < 0 || static_cast<std::size_t>(n) == op->len) {
    op->ec = n < 0 ? std::error_code(err, std::system_category()) : std::error_code();
    op->bytes = n < 0 ? 0 : static_cast<std::size_t>(n);
    return true;
  }
  op->arg = static_cast<const std::byte*>(op->arg) + n;
  op->len -= static_cast<std::size_t>(n);
  return false;
}

}  // namespace

void read_wait_op::complete(void* owner, asio::detail::operation* base, const asio::error_code&,
                            std::size_t) {
  auto* op = static_cast<read_wait_op*>(base);
  stream_socket_impl* s = op->s_;
  if (owner == nullptr) {
    // The loop is being destroyed with the wait queued (shutdown): no read can wait on it any
    // more; free a socket whose delete was left to this wait.
    s->read_wait_armed = false;
    if (s->delete_on_wait_end && !s->deadline_armed) delete s;
    return;
  }
  on_readable(s, op->ec_);
}

void read_deadline_due_op::complete(void* owner, asio::detail::scheduler_operation* base,
                                    const asio::error_code&, std::size_t) {
  stream_socket_impl* s = static_cast<read_deadline_due_op*>(base)->s_;
  if (owner == nullptr) {
    // The loop is being destroyed with the step queued (shutdown): no read can wait any more;
    // free a socket whose delete was left to this step.
    s->deadline_armed = false;
    if (s->delete_on_wait_end && !s->read_wait_armed) delete s;
    return;
  }
  s->owner->io_end();
  read_deadline_due(s);
}

namespace {

/// Holds a stream's read claim for a scope (read_exact, read_until).
class read_claim {
 public:
  explicit read_claim(stream_socket_impl* s) : s_(s) { stream_claim(s_, false); }
  ~read_claim() { stream_unclaim(s_, false); }
  read_claim(const read_claim&) = delete;
  read_claim& operator=(const read_claim&) = delete;

 private:
  stream_socket_impl* s_;
};

}  // namespace

std::optional<std::size_t> stream_access::try_read_now(net::stream& st, std::span<std::byte> buf) {
  stream_socket_impl* s = &st.impl();
  read_claim claim(s);
  if (!s->rbuf.empty() || s->read_failure != nullptr) return std::nullopt;
  io_op op;
  op.owner = s->owner;
  op.target = s;
  op.buf = buf.data();
  op.len = buf.size();
  op.try_now = &try_recv;
  op.try_off_loop = &try_recv_off_loop;
  if (!io_try_now(&op)) return std::nullopt;
  if (op.ec == asio::error::eof) return 0;
  if (op.ec) throw std::system_error(normalize_error(op.ec), "coreio::net: read");
  return op.bytes;
}

}  // namespace coreio::detail

namespace coreio::net {

using detail::stream_socket_impl;

stream::stream() noexcept = default;
stream::stream(stream&&) noexcept = default;
stream& stream::operator=(stream&&) noexcept = default;
stream::~stream() = default;
stream::stream(detail::stream_socket_ptr impl) noexcept : impl_(std::move(impl)) {}

detail::stream_socket_impl& stream::impl() const {
  if (!impl_)
    detail::throw_usage("coreio::net: the stream is not connected (default or moved from)");
  return *impl_;
}

// ---- read_some -------------------------------------------------------------------------------

stream::read_awaiter::read_awaiter(stream& s, std::span<std::byte> buf, detail::read_mode mode)
    : s_(&s.impl()), out_(buf), mode_(mode) {
  owner = s_->owner;
  target = s_;
  this->buf = buf.data();
  len = buf.size();
  start = &detail::start_read;
  abort = &detail::abort_read;
  try_now = &detail::try_recv;
  try_off_loop = &detail::try_recv_off_loop;
  site = &detail::wait_sites::socket_read;
  wait_arg = s_->fd;
}

stream::read_awaiter::~read_awaiter() {
  if (claimed_) detail::stream_unclaim(s_, false);
}

bool stream::read_awaiter::await_ready() {
  if (mode_ == detail::read_mode::raw) {  // the caller holds the claim and took the buffer's bytes
    from_buffer_ = s_->read_failure != nullptr;
    return from_buffer_;
  }
  detail::stream_claim(s_, false);
  claimed_ = true;
  if (mode_ == detail::read_mode::readable) {
    // ready_ stays 0: a wait returns no bytes; the caller's read meets the failure.
    from_buffer_ = !s_->rbuf.empty() || s_->read_failure != nullptr;
    return from_buffer_;
  }
  if (out_.empty()) {
    from_buffer_ = true;
    return true;
  }
  ready_ = s_->rbuf.take(out_);
  from_buffer_ = ready_ > 0 || s_->read_failure != nullptr;
  return from_buffer_;
}

std::size_t stream::read_awaiter::await_resume() {
  if (from_buffer_) {
    // A failure put back (give_back_failure) comes after the buffered bytes, once.
    if (ready_ == 0 && !out_.empty() && s_->read_failure != nullptr) {
      std::rethrow_exception(std::exchange(s_->read_failure, nullptr));
    }
    return ready_;
  }
  finish();
  if (ec == asio::error::eof) return 0;
  if (deadline_ns != 0 && ec == std::errc::timed_out) throw timeout_error{};
  if (ec) throw std::system_error(detail::normalize_error(ec), "coreio::net: read");
  return bytes;
}

void stream::read_awaiter::give_back(std::size_t n) {
  // The read claim is still this awaiter's (released by its destructor), and so is the buffer.
  if (n != 0 && claimed_) s_->rbuf.unread(out_.first(std::min(n, out_.size())));
}

void stream::read_awaiter::give_back_failure(std::exception_ptr e) noexcept {
  if (claimed_) s_->read_failure = std::move(e);  // the claim is still this awaiter's
}

stream::read_awaiter stream::read_some(std::span<std::byte> buf) {
  return read_awaiter(*this, buf);
}

// ---- read_exact, read_until -------------------------------------------------------------------

task<void> stream::read_exact(std::span<std::byte> buf) {
  stream_socket_impl* s = &impl();
  detail::read_claim claim(s);
  std::size_t got = s->rbuf.take(buf);
  std::exception_ptr failure;
  try {
    while (got < buf.size()) {
      const std::size_t n = co_await read_awaiter(*this, buf.subspan(got), detail::read_mode::raw);
      if (n == 0) break;
      got += n;
    }
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    // Cancelled, timed out or failed: what was read goes back for the next read (file comment).
    s->rbuf.unread(buf.first(got));
    std::rethrow_exception(failure);
  }
  if (got < buf.size()) throw incomplete_read_error(got, buf.size());
}

task<std::string> stream::read_until(std::string delimiter, std::size_t max) {
  if (delimiter.empty()) detail::throw_usage("coreio::net: read_until with an empty delimiter");
  stream_socket_impl* s = &impl();
  detail::read_claim claim(s);
  std::size_t searched = 0;  // bytes of the buffer already known not to start a match
  for (;;) {
    const std::string_view view = s->rbuf.view();
    const std::size_t at = view.find(delimiter, searched);
    if (at != std::string_view::npos && at + delimiter.size() <= max) {
      std::string line(view.substr(0, at + delimiter.size()));
      s->rbuf.consume(line.size());
      co_return line;
    }
    const std::size_t have = view.size();
    if (at != std::string_view::npos || have >= max) throw limit_overrun_error(max);
    searched = have >= delimiter.size() ? have - delimiter.size() + 1 : 0;
    // Fill: one socket read into the buffer's free space; nothing is committed if it throws.
    const std::span<std::byte> room = s->rbuf.prepare(detail::read_buffer::k_chunk);
    const std::size_t n = co_await read_awaiter(*this, room, detail::read_mode::raw);
    if (n == 0) throw incomplete_read_error(have, have + delimiter.size());
    s->rbuf.commit(n);
  }
}

// ---- write_all --------------------------------------------------------------------------------

stream::write_awaiter::write_awaiter(stream& s, std::span<const std::byte> data) {
  stream_socket_impl& impl = s.impl();
  // Acquire: a shutdown_write of this thread, or one that happened-before this write, is seen.
  if (impl.write_shut.load(std::memory_order_acquire)) {
    detail::throw_usage("coreio::net: write_all after shutdown_write() (the FIN was sent)");
  }
  owner = impl.owner;
  target = &impl;
  abort_ctx = &impl.write_sig;
  arg = data.data();
  len = data.size();
  start = [](io_op* op) {
    auto* s = static_cast<stream_socket_impl*>(op->target);
    asio::async_write(s->sock, asio::buffer(op->arg, op->len),
                      detail::io_handler(op, s->write_sig));
  };
  abort = &detail::abort_by_signal;
  try_now = &detail::try_write;
  try_now_anywhere = true;
  site = &detail::wait_sites::socket_write;
  wait_arg = impl.fd;
}

stream::write_awaiter::~write_awaiter() {
  if (claimed_) detail::stream_unclaim(static_cast<stream_socket_impl*>(target), true);
}

void stream::write_awaiter::await_resume() {
  finish();
  if (ec) throw std::system_error(detail::normalize_error(ec), "coreio::net: write");
}

stream::write_awaiter stream::write_all(std::span<const std::byte> data) {
  return write_awaiter(*this, data);
}

stream::write_awaiter stream::write_all(std::string_view text) {
  return write_awaiter(*this, std::as_bytes(std::span<const char>(text.data(), text.size())));
}

// ---- the rest -------------------------------------------------------------------------------

void stream::shutdown_write() {
  stream_socket_impl* s = &impl();
  // Seq_cst store, then seq_cst load: shutdown_write's half of the pair ("Shutting down the write
  // side"); a write in flight sends the FIN when it ends.
  s->write_shut.store(true, std::memory_order_seq_cst);
  if (s->writing.load(std::memory_order_seq_cst)) return;
  detail::send_fin(s);
}

void stream::close() noexcept {
  if (!impl_) return;
  stream_socket_impl* s = impl_.get();
  // Seq_cst: is_open()'s acquire load at once, and no send starts from here on (try_write).
  s->closed.store(true, std::memory_order_seq_cst);
  try {
    detail::on_loop(s->owner, [s] { detail::close_descriptor(s); });
  } catch (...) {
  }
}

bool stream::is_open() const noexcept {
  if (!impl_ || impl_->closed.load(std::memory_order_acquire)) return false;
  // Only the owner's loop steps change the descriptor: read it only under the loop token.
  return detail::read_on_loop(impl_->owner, [this] { return impl_->sock.is_open(); }, true);
}

}  // namespace coreio::net
