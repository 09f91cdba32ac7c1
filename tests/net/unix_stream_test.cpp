// unix_stream_test.cpp — coreio/net/unix_stream.hpp and unix_listener.hpp: connecting, accepting
// (on any worker), the stream API shared with tcp_stream (through net::stream), paths of both ends,
// the socket file's life (a stale one replaced, a live one or another file kept, ours removed on
// close), cancellation, and bad input. Every socket file is under a fresh temporary directory.
// Reads interrupted at random points, over Unix sockets too: stream_read_test.cpp.
#include <coreio/net/unix_listener.hpp>
#include <coreio/net/unix_stream.hpp>

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

#include <coreio/coreio.hpp>

#include "net_support.hpp"
#include "support/suspension_probe.hpp"

namespace {

using namespace std::chrono_literals;
using namespace coreio_net_test;
using coreio::net::stream;
using coreio::net::unix_listener;
using coreio::net::unix_stream;
using coreio_test::ends_within;
using coreio_test::prompt;

coreio::runtime_options two_workers() { return coreio::runtime_options{.workers = 2}; }

bool exists(const std::string& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0;
}

/// Leaves a socket file at path that nobody listens on (a server that died without cleaning up).
void make_stale_socket(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
  ASSERT_EQ(::listen(fd, 1), 0);
  ::close(fd);  // the file stays
}

// ---- a conversation
// -------------------------------------------------------------------------------

/// Speaks a small line protocol over any stream: the shared API is the same for every protocol.
coreio::task<void> serve_lines(stream s) {
  for (;;) {
    std::string line;
    try {
      line = co_await s.read_until("\n", 1024);
    } catch (const coreio::incomplete_read_error&) {
      break;  // the client is done
    }
    co_await s.write_all(std::string_view("echo " + line));
  }
  s.close();
}

struct conversation {
  std::string first, second, rest;
  std::string client_local, client_remote, server_local, server_remote, listener_path;
};

coreio::task<conversation> talk_over(std::string path) {
  auto lis = unix_listener::bind(path);
  conversation c;
  c.listener_path = lis.path();
  unix_stream client = co_await unix_stream::connect(path);
  unix_stream server = co_await lis.accept();
  c.client_local = client.local_path();
  c.client_remote = client.remote_path();
  c.server_local = server.local_path();
  c.server_remote = server.remote_path();
  auto srv = coreio::spawn(serve_lines(std::move(server)));
  co_await client.write_all(std::string_view("hello\nworld\n"));
  c.first = co_await client.read_until("\n", 100);
  std::array<std::byte, 11> second;
  co_await client.read_exact(std::span(second));
  c.second = to_string(second);
  co_await client.write_all(std::string_view("bye\n"));
  client.shutdown_write();
  c.rest = co_await read_to_eof(&client);
  co_await srv;
  co_return c;
}

TEST(UnixStreamTest, ConnectsAcceptsAndSpeaksTheSharedStreamApi) {
  temp_dir dir;
  coreio::runtime rt{two_workers()};
  const std::string path = dir.file("talk.sock");
  const conversation c = rt.block_on(talk_over(path));
  EXPECT_EQ(c.first, "echo hello\n");
  EXPECT_EQ(c.second, "echo world\n");
  EXPECT_EQ(c.rest, "echo bye\n");
  EXPECT_EQ(c.listener_path, path);
  EXPECT_EQ(c.client_local, "");  // a connecting socket is unnamed
  EXPECT_EQ(c.client_remote, path);
  EXPECT_EQ(c.server_local, path);
  EXPECT_EQ(c.server_remote, "");
}

coreio::task<std::string> accept_on_each_worker(std::string path, int workers) {
  auto lis = unix_listener::bind(path);
  std::string got;
  for (int w = 0; w < workers; ++w) {
    unix_stream c = co_await unix_stream::connect(path);
    unix_stream s = co_await lis.accept_on(w);
    co_await c.write_all(std::string_view(std::to_string(w)));
    std::array<std::byte, 1> b;
    co_await s.read_exact(std::span(b));
    got += to_string(b);
  }
  co_return got;
}

TEST(UnixStreamTest, AcceptOnPlacesConnectionsOnAnyWorkerAndTheyWork) {
  temp_dir dir;
  coreio::runtime rt{coreio::runtime_options{.workers = 3}};
  EXPECT_EQ(rt.block_on(accept_on_each_worker(dir.file("w.sock"), 3)), "012");
}

// ---- the socket file
// ------------------------------------------------------------------------------

coreio::task<bool> bind_then_close(std::string path) {
  auto lis = unix_listener::bind(path);
  const bool there = exists(path);
  lis.close();  // on the listener's own worker: removed at once
  co_return there;
}

TEST(UnixStreamTest, CloseRemovesTheSocketFile) {
  temp_dir dir;
  coreio::runtime rt{two_workers()};
  const std::string path = dir.file("gone.sock");
  EXPECT_TRUE(rt.block_on(bind_then_close(path)));
  EXPECT_FALSE(exists(path));
}

coreio::task<void> bind_and_drop(std::string path) {
  auto lis = unix_listener::bind(path);
  co_return;  // destroyed here
}

TEST(UnixStreamTest, DestroyingTheListenerRemovesTheSocketFile) {
  temp_dir dir;
  coreio::runtime rt{two_workers()};
  const std::string path = dir.file("dropped.sock");
  rt.block_on(bind_and_drop(path));
  // Removed on the listener's loop: at once on its worker, else right after.
  EXPECT_TRUE(coreio_test::wait_until([&] { return !exists(path); }));
}

coreio::task<std::string> connect_after_bind(std::string path) {
  auto lis = unix_listener::bind(path);
  unix_stream c = co_await unix_stream::connect(path);
  unix_stream s = co_await lis.accept();
  co_await c.write_all(std::string_view("ok"));
  std::array<std::byte, 2> b;
  co_await s.read_exact(std::span(b));
  co_return to_string(b);
}

TEST(UnixStreamTest, BindReplacesAStaleSocketFile) {
  temp_dir dir;
  const std::string path = dir.file("stale.sock");
  make_stale_socket(path);
  ASSERT_TRUE(exists(path));
  coreio::runtime rt{two_workers()};
  EXPECT_EQ(rt.block_on(connect_after_bind(path)), "ok");
}

coreio::task<std::error_code> bind_error(std::string path,
                                         coreio::net::unix_listen_options o = {}) {
  try {
    auto lis = unix_listener::bind(path, o);
  } catch (const std::system_error& e) {
    co_return e.code();
  }
  co_return std::error_code{};
}

coreio::task<std::error_code> bind_twice(std::string path) {
  auto first = unix_listener::bind(path);
  co_return co_await bind_error(path);
}

TEST(UnixStreamTest, BindingOverALiveListenerOrAnotherFileThrowsAddressInUseAndKeepsIt) {
  temp_dir dir;
  coreio::runtime rt{two_workers()};
  EXPECT_EQ(rt.block_on(bind_twice(dir.file("live.sock"))), std::errc::address_in_use);
  const std::string plain = dir.file("not-a-socket");
  std::ofstream(plain) << "data";
  EXPECT_EQ(rt.block_on(bind_error(plain)), std::errc::address_in_use);
  EXPECT_TRUE(exists(plain));
  // With replace_stale off, a stale socket is kept and the bind fails.
  const std::string stale = dir.file("kept.sock");
  make_stale_socket(stale);
  EXPECT_EQ(rt.block_on(bind_error(stale, {.replace_stale = false})), std::errc::address_in_use);
  EXPECT_TRUE(exists(stale));
}

coreio::task<bool> close_keeps_a_replaced_file(std::string path) {
  auto lis = unix_listener::bind(path);
  // Someone else replaces the file meanwhile; closing must not remove theirs.
  ::unlink(path.c_str());
  std::ofstream(path) << "theirs";
  lis.close();
  co_return exists(path);
}

TEST(UnixStreamTest, CloseLeavesAFileThatIsNoLongerOurs) {
  temp_dir dir;
  coreio::runtime rt{two_workers()};
  EXPECT_TRUE(rt.block_on(close_keeps_a_replaced_file(dir.file("replaced.sock"))));
}

// ---- errors
// -----------------------------------------------------------------------------------------

coreio::task<std::string> connect_failure(std::string path, std::error_code* code) {
  try {
    (void)co_await unix_stream::connect(path);
  } catch (const std::system_error& e) {
    *code = e.code();
    co_return e.what();
  }
  co_return "";
}

TEST(UnixStreamTest, ConnectWithNoListenerThrowsSystemErrorNamingThePath) {
  temp_dir dir;
  coreio::runtime rt{two_workers()};
  std::error_code code;
  const std::string missing = dir.file("missing.sock");
  std::string what = rt.block_on(connect_failure(missing, &code));
  EXPECT_EQ(code, std::errc::no_such_file_or_directory) << what;
  EXPECT_NE(what.find(missing), std::string::npos) << what;
  const std::string stale = dir.file("refusing.sock");
  make_stale_socket(stale);
  what = rt.block_on(connect_failure(stale, &code));
  EXPECT_EQ(code, std::errc::connection_refused) << what;
}

coreio::task<std::string> bad_paths() {
  std::string out;
  try {
    (void)unix_listener::bind("");
  } catch (const std::invalid_argument&) {
    out += "bind-empty ";
  }
  try {
    (void)co_await unix_stream::connect("");
  } catch (const std::invalid_argument&) {
    out += "connect-empty ";
  }
  const std::string too_long = "/tmp/" + std::string(200, 'x');
  try {
    (void)unix_listener::bind(too_long);
  } catch (const std::system_error& e) {
    if (e.code() == std::errc::filename_too_long) out += "bind-long ";
  }
  try {
    (void)co_await unix_stream::connect(too_long);
  } catch (const std::system_error& e) {
    if (e.code() == std::errc::filename_too_long) out += "connect-long";
  }
  co_return out;
}

TEST(UnixStreamTest, AnEmptyOrTooLongPathThrowsAClearError) {
  coreio::runtime rt{two_workers()};
  EXPECT_EQ(rt.block_on(bad_paths()), "bind-empty connect-empty bind-long connect-long");
}

TEST(UnixStreamTest, UseOutsideARuntimeOrUnboundThrowsUsageError) {
  EXPECT_THROW((void)unix_listener::bind("/tmp/x.sock"), coreio::usage_error);
  unix_listener none;
  EXPECT_THROW((void)none.accept(), coreio::usage_error);
  EXPECT_THROW((void)none.path(), coreio::usage_error);
  EXPECT_FALSE(none.is_open());
  unix_stream s;
  EXPECT_THROW((void)s.local_path(), coreio::usage_error);
  EXPECT_FALSE(s.is_open());
}

// ---- cancellation -------------------------------------------------------------------------------

/// Sets *pending once suspended in accept().
coreio::task<unix_stream> accept_one(unix_listener* l, std::atomic<bool>* pending) {
  co_return co_await coreio_test::count_suspension(l->accept(), pending);
}

coreio::task<unix_listener> bind_at(std::string path) { co_return unix_listener::bind(path); }

coreio::task<std::string> connect_after_accept(unix_listener* lis, std::string path) {
  unix_stream c = co_await unix_stream::connect(path);
  unix_stream s = co_await lis->accept();
  co_await s.write_all(std::string_view("ok"));
  std::array<std::byte, 2> b;
  co_await c.read_exact(std::span(b));
  co_return to_string(b);
}

TEST(UnixStreamTest, CancellingAPendingAcceptThrowsCancelledAndTheListenerStillWorks) {
  temp_dir dir;
  coreio::runtime rt{two_workers()};
  const std::string path = dir.file("cancel.sock");
  unix_listener lis = rt.block_on(bind_at(path));
  std::atomic<bool> pending{false};
  auto h = rt.spawn(accept_one(&lis, &pending));
  ASSERT_TRUE(coreio_test::wait_until([&] { return pending.load(); })) << "accept never suspended";
  h.cancel();
  ASSERT_TRUE(ends_within(h, prompt));
  EXPECT_THROW((void)h.get(), coreio::cancelled_error);
  EXPECT_EQ(rt.block_on(connect_after_accept(&lis, path)), "ok");
}

}  // namespace
