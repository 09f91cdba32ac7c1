// http/server_scratch_test.cpp — the server's request scratch (src/http/scratch_pool.hpp: the
// parser and buffers a plain-TCP connection holds only while it serves a request, lent from a
// free list per worker and shared spares): the pool hands back last-in first-out and keeps at
// most k_keep per worker in its slot and as many again in the spares; and end to end, connections
// that go idle and wake again, more of them in suspended handlers at once than the pool keeps,
// heads and bodies split across reads and pipelined requests each get their own answers, in
// order, on the same connections.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <coreio/coreio.hpp>
#include <coreio/http/server.hpp>
#include <coreio/net/tcp_stream.hpp>
#include <coreio/sync/event.hpp>

#include "http/scratch_pool.hpp"
#include "support/server_support.hpp"

namespace coreio_http_test {
namespace {

using coreio::http::detail::scratch_pool;
using coreio::http::detail::scratch_ptr;

// On a worker (the pool's slots are the workers').
void take_and_give_on_a_worker() {
  scratch_pool pool(1, coreio::http::detail::parse_limits{});
  // One worker: its slot keeps k_keep, the spares k_keep more; beyond, a given scratch is freed.
  constexpr std::size_t kept = 2 * scratch_pool::k_keep;
  std::vector<scratch_ptr> held;
  std::vector<const void*> addresses;
  for (std::size_t i = 0; i < kept + 4; ++i) {
    held.push_back(pool.take());
    ASSERT_NE(held.back(), nullptr);
    EXPECT_TRUE(held.back()->p.has_state());
    addresses.push_back(held.back().get());
  }
  // Given back in order: the first k_keep to the slot, the next k_keep to the spares, the rest
  // freed (and nulled here).
  for (scratch_ptr& s : held) {
    pool.give(s);
    EXPECT_EQ(s, nullptr);
  }
  // Taken again: the slot's, the last kept first, then the spares', the last kept first.
  for (std::size_t i = scratch_pool::k_keep; i-- > 0;) {
    scratch_ptr s = pool.take();
    EXPECT_EQ(s.get(), addresses[i]) << "take " << i;
    held[i] = std::move(s);
  }
  for (std::size_t i = kept; i-- > scratch_pool::k_keep;) {
    scratch_ptr s = pool.take();
    EXPECT_EQ(s.get(), addresses[i]) << "take " << i;
    held[i] = std::move(s);
  }
  // The pool is empty now: a new one is made.
  scratch_ptr fresh = pool.take();
  ASSERT_NE(fresh, nullptr);
  EXPECT_TRUE(fresh->p.has_state());
}

TEST(ScratchPool, HandsBackTheLastGivenAndKeepsABoundedNumber) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  rt.block_on([]() -> coreio::task<void> {
    take_and_give_on_a_worker();
    co_return;
  }());
}

constexpr std::size_t k_connections = 3 * scratch_pool::k_keep;

/// Reads from s until `want` responses are in, the last one whole (every body here ends in "!").
coreio::task<std::string> read_responses(coreio::net::tcp_stream& s, std::size_t want) {
  std::string got;
  std::array<char, 4096> buf{};
  while (count(got, "HTTP/1.1 200") < want || got.back() != '!') {
    auto rd = s.read_some(std::span<char>(buf));
    auto w = coreio::wait_for(std::move(rd), 10s);
    const std::size_t n = co_await std::move(w);
    if (n == 0) break;
    got.append(buf.data(), n);
  }
  co_return got;
}

coreio::task<void> idle_connections_wake_with_their_own_answers() {
  // Every handler of the first round waits at the gate until all k_connections are in handlers:
  // three times what a worker's pool keeps, all holding scratch at once.
  auto gate = std::make_shared<coreio::event>();
  auto inside = std::make_shared<std::atomic<std::size_t>>(0);
  running_server rs{
      test_options(), [gate, inside](http::server& srv) {
        srv.route("GET", "/wait/{id}",
                  [gate, inside](http::request& req) -> coreio::task<http::response> {
                    inside->fetch_add(1);
                    co_await gate->wait();
                    co_return http::response{200, "wait " + std::string(req.match("id")) + "!"};
                  });
        srv.route("POST", "/len/{id}", [](http::request& req) -> coreio::task<http::response> {
          co_return http::response{
              200, std::string(req.match("id")) + " " + std::string(req.body()) + "!"};
        });
      }};
  std::vector<coreio::net::tcp_stream> conns;
  for (std::size_t i = 0; i < k_connections; ++i) {
    coreio::task<coreio::net::tcp_stream> c =
        coreio::net::tcp_stream::connect("127.0.0.1", rs.port);
    conns.push_back(co_await std::move(c));
    conns.back().set_nodelay(true);  // the split writes below go out at once
  }
  for (std::size_t i = 0; i < k_connections; ++i) {
    const std::string req = "GET /wait/" + std::to_string(i) + " HTTP/1.1\r\nHost: a\r\n\r\n";
    co_await conns[i].write_all(std::string_view(req));
  }
  while (inside->load() < k_connections) co_await coreio::sleep_for(1ms);  // probe: all inside
  gate->set();
  for (std::size_t i = 0; i < k_connections; ++i) {
    const std::string got = co_await read_responses(conns[i], 1);
    EXPECT_NE(got.find("\r\n\r\nwait " + std::to_string(i) + "!"), std::string::npos) << got;
  }
  // Round two, on the same (now idle) connections, in reverse order: a head split across two
  // writes, then a body split from its head, then two requests pipelined in one write.
  for (std::size_t i = k_connections; i-- > 0;) {
    const std::string id = std::to_string(i);
    co_await conns[i].write_all(std::string_view("POST /len/" + id + " HT"));
    co_await coreio::yield_now();
    co_await conns[i].write_all(std::string_view("TP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"));
    co_await coreio::yield_now();
    co_await conns[i].write_all(std::string_view("ab"));
    co_await coreio::yield_now();
    co_await conns[i].write_all(std::string_view("cde"));
    std::string got = co_await read_responses(conns[i], 1);
    EXPECT_NE(got.find("\r\n\r\n" + id + " abcde!"), std::string::npos) << got;
    const std::string two = "POST /len/" + id +
                            "a HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx" + "POST /len/" +
                            id + "b HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\ny";
    co_await conns[i].write_all(std::string_view(two));
    got = co_await read_responses(conns[i], 2);
    const std::size_t a = got.find("\r\n\r\n" + id + "a x!");
    const std::size_t b = got.find("\r\n\r\n" + id + "b y!");
    EXPECT_NE(a, std::string::npos) << got;
    EXPECT_NE(b, std::string::npos) << got;
    EXPECT_LT(a, b);
  }
  conns.clear();
  co_await rs.stop();
}
TEST(ServerScratch, IdleConnectionsWakeWithTheirOwnAnswers) {
  run_test(idle_connections_wake_with_their_own_answers);
}

}  // namespace
}  // namespace coreio_http_test
