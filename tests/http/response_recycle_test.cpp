// http/response_recycle_test.cpp — response states are kept by the thread that drops them and
// reused (src/http/response.cpp, make_response_state / recycle_response_state; a received head
// swaps its fields with a kept state's strings): a reused state shows nothing of its last
// response (fields, status, reason, body, url), responses held at once keep their own fields
// while others are dropped and made, heads with more and then fewer fields than the last one are
// read whole, and a built response starts with only its own fields.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <coreio/coreio.hpp>
#include <coreio/http.hpp>

#include "http/client_core.hpp"
#include "support/server_support.hpp"

namespace coreio_http_test {
namespace {

// GET /fields/{n}: n fields X-F0..X-F<n-1> whose values name n and the field, and a body "n".
void add_field_route(http::server& srv) {
  srv.route("GET", "/fields/{n}", [](http::request& req) -> coreio::task<http::response> {
    const std::string n(req.match("n"));
    http::response r{200, "body " + n};
    for (int i = 0; i < std::stoi(n); ++i) {
      r.set_header("X-F" + std::to_string(i), "value of field " + std::to_string(i) + " of " + n);
    }
    co_return r;
  });
  srv.route("GET", "/missing", [](http::request&) -> coreio::task<http::response> {
    co_return http::response{404, "gone"};
  });
}

// Checks r is the answer to /fields/n: exactly its n fields (and the server's own), its body.
coreio::task<void> expect_fields(http::response& r, int n) {
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(r.reason(), "OK");
  int seen = 0;
  for (const auto& [name, value] : r.headers()) {
    if (name.rfind("X-F", 0) != 0) continue;
    const int i = std::stoi(name.substr(3));
    EXPECT_LT(i, n);
    EXPECT_EQ(value, "value of field " + std::to_string(i) + " of " + std::to_string(n));
    ++seen;
  }
  EXPECT_EQ(seen, n);
  const std::string body = co_await r.text();
  EXPECT_EQ(body, "body " + std::to_string(n));
}

coreio::task<void> reused_states_show_nothing_of_their_last_response() {
  running_server rs{test_options(), add_field_route};
  http::client session;
  // More fields, then fewer, then more again, each response dropped before the next: every state
  // after the first is a kept one, and the parser fills the strings the last response had.
  for (int n : {3, 12, 1, 0, 20, 2, 7}) {
    const std::string u = rs.url("/fields/" + std::to_string(n));
    http::response r = co_await session.get(u);
    co_await expect_fields(r, n);
    EXPECT_EQ(r.url(), u);
  }
  // A 404 after a 200: the reused state's status and reason are the new response's.
  {
    const std::string u = rs.url("/missing");
    http::response r = co_await session.get(u);
    EXPECT_EQ(r.status(), 404);
    EXPECT_EQ(r.reason(), "Not Found");
    EXPECT_FALSE(r.header("x-f0").has_value());
    EXPECT_EQ(co_await r.text(), "gone");
  }
  // Responses held at once, made while others are dropped: each keeps its own fields.
  std::vector<http::response> held;
  for (int n = 0; n < 40; ++n) {
    const std::string u = rs.url("/fields/" + std::to_string(n % 9));
    http::response r = co_await session.get(u);
    if (n % 3 == 0) {
      co_await expect_fields(r, n % 9);  // dropped here: its state is kept for the next
    } else {
      held.push_back(std::move(r));
    }
  }
  for (std::size_t i = 0, n = 0; n < 40; ++n) {
    if (n % 3 == 0) continue;
    co_await expect_fields(held[i++], static_cast<int>(n % 9));
  }
  held.clear();
  co_await session.close();
  co_await rs.stop();
}
TEST(ResponseRecycle, ReusedStatesShowNothingOfTheirLastResponse) {
  run_test(reused_states_show_nothing_of_their_last_response);
}

coreio::task<void> a_built_response_starts_with_its_own_fields() {
  // A received response with many fields, dropped on this thread: its state is kept here.
  running_server rs{test_options(), add_field_route};
  http::client session;
  {
    const std::string u = rs.url("/fields/10");
    http::response r = co_await session.get(u);
    co_await expect_fields(r, 10);
  }
  // Built here next: only its own Content-Type, its status and body.
  http::response built{201, "made"};
  EXPECT_EQ(built.status(), 201);
  EXPECT_EQ(built.headers().size(), 1u);
  EXPECT_EQ(built.header("content-type").value_or(""), "text/plain; charset=utf-8");
  EXPECT_EQ(co_await built.text(), "made");
  http::response plain_status{204};
  EXPECT_TRUE(plain_status.headers().empty());
  EXPECT_EQ(co_await plain_status.text(), "");
  co_await session.close();
  co_await rs.stop();
}
TEST(ResponseRecycle, ABuiltResponseStartsWithItsOwnFields) {
  run_test(a_built_response_starts_with_its_own_fields, 1);
}

TEST(ResponseRecycle, StatesKeptOffTheRuntimeComeBackClean) {
  // Any thread keeps states (at most k_kept_response_states); these had a field and a body.
  std::vector<http::response> many;
  for (std::size_t i = 0; i < 3 * coreio::http::detail::k_kept_response_states; ++i) {
    many.emplace_back(200, std::string(100, 'x'));
  }
  many.clear();  // all dropped: the first k kept, the rest deleted
  std::vector<http::response> again;
  for (std::size_t i = 0; i < coreio::http::detail::k_kept_response_states + 2; ++i) {
    again.emplace_back(200);
    EXPECT_TRUE(again.back().headers().empty());
    EXPECT_EQ(again.back().status(), 200);
    EXPECT_EQ(again.back().reason(), "OK");
  }
}

}  // namespace
}  // namespace coreio_http_test
