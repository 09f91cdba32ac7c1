// dump_tasks_test.cpp — coreio/dump_tasks.hpp: a known three-level await chain (A awaits B's join
// handle, B gathers the handles of three tasks C that sleep, wait on a lock and read a socket)
// shows up with the right edges and each leaf's wait, in the text tree and in the JSON (parsed
// here); task_group and wait_for edges; the caller's-runtime form; what a finished dump leaves.
#include <coreio/dump_tasks.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cctype>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <coreio/errors.hpp>
#include <coreio/gather.hpp>
#include <coreio/net/tcp_listener.hpp>
#include <coreio/net/tcp_stream.hpp>
#include <coreio/runtime.hpp>
#include <coreio/shield.hpp>
#include <coreio/spawn.hpp>
#include <coreio/sync/event.hpp>
#include <coreio/sync/mutex.hpp>
#include <coreio/task_group.hpp>
#include <coreio/time.hpp>
#include <coreio/wait_for.hpp>

#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using coreio_test::wait_until;

// ---- a minimal JSON reader (objects, arrays, strings, numbers, true/false/null) ----------------

struct json {
  enum class type { null, boolean, number, string, array, object } t = type::null;
  bool b = false;
  double n = 0;
  std::string s;
  std::vector<json> a;
  std::map<std::string, json> o;

  const json& operator[](const std::string& k) const {
    static const json none;
    auto it = o.find(k);
    return it == o.end() ? none : it->second;
  }
};

class json_reader {
 public:
  explicit json_reader(std::string_view in) : in_(in) {}
  json document() {
    json v = value();
    ws();
    if (i_ != in_.size()) fail("trailing characters");
    return v;
  }
  bool ok() const { return ok_; }

 private:
  void fail(const char* why) {
    if (ok_) ADD_FAILURE() << "bad JSON at " << i_ << ": " << why << "\n" << in_;
    ok_ = false;
    i_ = in_.size();
  }
  void ws() {
    while (i_ < in_.size() && std::isspace(static_cast<unsigned char>(in_[i_]))) ++i_;
  }
  bool eat(char c) {
    ws();
    if (i_ < in_.size() && in_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool word(std::string_view w) {
    if (in_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }
  std::string string_body() {
    std::string out;
    while (i_ < in_.size() && in_[i_] != '"') {
      char c = in_[i_++];
      if (c == '\\') {
        if (i_ >= in_.size()) break;
        const char e = in_[i_++];
        switch (e) {
          case 'n':
            out += '\n';
            break;
          case 't':
            out += '\t';
            break;
          case 'r':
            out += '\r';
            break;
          case 'u':
            out += '?';
            i_ += 4;
            break;
          default:
            out += e;
        }
      } else {
        if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
        out += c;
      }
    }
    if (i_ >= in_.size()) fail("unterminated string");
    ++i_;
    return out;
  }
  json value() {
    json v;
    ws();
    if (i_ >= in_.size()) {
      fail("value expected");
      return v;
    }
    const char c = in_[i_];
    if (c == '{') {
      ++i_;
      v.t = json::type::object;
      if (eat('}')) return v;
      do {
        if (!eat('"')) {
          fail("key expected");
          return v;
        }
        std::string k = string_body();
        if (!eat(':')) fail("':' expected");
        v.o[k] = value();
      } while (eat(','));
      if (!eat('}')) fail("'}' expected");
    } else if (c == '[') {
      ++i_;
      v.t = json::type::array;
      if (eat(']')) return v;
      do v.a.push_back(value());
      while (eat(','));
      if (!eat(']')) fail("']' expected");
    } else if (c == '"') {
      ++i_;
      v.t = json::type::string;
      v.s = string_body();
    } else if (word("true")) {
      v.t = json::type::boolean;
      v.b = true;
    } else if (word("false")) {
      v.t = json::type::boolean;
    } else if (word("null")) {
    } else {
      std::size_t used = 0;
      try {
        v.n = std::stod(std::string(in_.substr(i_, 32)), &used);
      } catch (...) {
        used = 0;
      }
      if (used == 0) fail("number expected");
      v.t = json::type::number;
      i_ += used;
    }
    return v;
  }
  std::string_view in_;
  std::size_t i_ = 0;
  bool ok_ = true;
};

json parse(const std::string& text) {
  json_reader r(text);
  json v = r.document();
  EXPECT_TRUE(r.ok());
  return v;
}

/// The tasks of a JSON dump by id.
std::map<std::uint64_t, json> by_id(const json& doc) {
  std::map<std::uint64_t, json> m;
  for (const json& t : doc["tasks"].a) m[static_cast<std::uint64_t>(t["id"].n)] = t;
  return m;
}

std::vector<std::uint64_t> awaited_by(const json& t) {
  std::vector<std::uint64_t> ids;
  for (const json& x : t["awaited_by"].a) ids.push_back(static_cast<std::uint64_t>(x.n));
  return ids;
}

/// The line of `text` that names task `id`, "" if none.
std::string line_of(const std::string& text, std::uint64_t id) {
  const std::string key = "\u2500 task " + std::to_string(id) + " ";  // its own branch
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    const std::size_t at = line.find(key);
    if (at != std::string::npos) return line;
    start = end + 1;
  }
  return {};
}

// ---- the three-level chain ---------------------------------------------------------------------

struct chain {
  coreio::mutex lock;     // held by `holder` while the chain runs
  coreio::event release;  // lets the holder go
  // Set by the tasks, read by the test thread (seq_cst: test code, no argument needed beyond
  // "an id seen by the test was stored before").
  std::atomic<std::uint16_t> port{0};             // the listener C_read's stream is connected to
  std::atomic<std::uint64_t> b{0};                // B's id
  std::array<std::atomic<std::uint64_t>, 3> c{};  // the Cs' ids: sleep, lock, read
};

coreio::task<void> c_sleep() { co_await coreio::sleep_for(1h); }

coreio::task<void> c_lock(chain& ch) { auto g = co_await ch.lock.lock(); }

coreio::task<void> c_read(chain& ch, coreio::net::tcp_stream s) {
  std::array<std::byte, 16> buf{};
  (void)ch;
  (void)co_await s.read_some(buf);  // the peer never writes
}

coreio::task<void> b_task(chain& ch, coreio::net::tcp_stream s) {
  auto h1 = coreio::spawn(c_sleep(), "C_sleep");
  auto h2 = coreio::spawn(c_lock(ch), "C_lock");
  auto h3 = coreio::spawn(c_read(ch, std::move(s)), "C_read");
  ch.c[0] = h1.id();
  ch.c[1] = h2.id();
  ch.c[2] = h3.id();
  co_await coreio::gather(std::move(h1), std::move(h2), std::move(h3));
}

coreio::task<void> a_task(chain& ch) {
  // A connected pair: the accepted end stays open in this frame and never writes.
  auto lis = coreio::net::tcp_listener::bind("127.0.0.1", 0);
  ch.port = lis.port();
  auto connecting = coreio::spawn(coreio::net::tcp_stream::connect("127.0.0.1", lis.port()));
  coreio::net::tcp_stream server_end = co_await lis.accept();
  coreio::net::tcp_stream client_end = co_await connecting;
  auto hb = coreio::spawn(b_task(ch, std::move(client_end)), "B");
  ch.b = hb.id();
  co_await hb;
}

coreio::task<void> holder(chain& ch) {
  auto g = co_await ch.lock.lock();
  co_await ch.release.wait();
}

/// Dumps until pred(dump) holds (the tasks reach their suspension points on other workers).
template <class Pred>
std::string dump_until(coreio::runtime& rt, coreio::task_dump_format f, Pred pred) {
  std::string d;
  const bool ok = wait_until([&] {
    d = coreio::dump_tasks(rt, f);
    return pred(d);
  });
  EXPECT_TRUE(ok) << "the dump never reached the expected state:\n" << d;
  return d;
}

TEST(DumpTasksTest, ThreeLevelChainInTextAndJson) {
  chain ch;
  coreio::runtime rt{{.workers = 2}};
  auto hold = rt.spawn(holder(ch), "holder");
  // The holder has the lock before the chain starts (its dump line says it waits on the event).
  dump_until(rt, coreio::task_dump_format::text, [&](const std::string& d) {
    return line_of(d, hold.id()).find("waiting on event") != std::string::npos;
  });
  auto ha = rt.spawn(a_task(ch), "A");
  const std::uint64_t a = ha.id();

  const std::string json_text =
      dump_until(rt, coreio::task_dump_format::json, [&](const std::string& d) {
        const json doc = parse(d);
        const auto tasks = by_id(doc);
        if (ch.c[2] == 0) return false;
        // Each C waiting and joined by B's gather: B's wait site says "gather" as soon as B
        // suspends, but the gather registers as each child's awaiter after that (a dump between
        // the two saw the Cs with no awaiter: a CI run under TSan).
        for (const auto& c : ch.c) {
          auto it = tasks.find(c.load());
          if (it == tasks.end() || it->second["state"].s != "waiting" ||
              awaited_by(it->second) != std::vector<std::uint64_t>{ch.b.load()}) {
            return false;
          }
        }
        auto b = tasks.find(ch.b.load());
        auto at = tasks.find(a);
        // And B joined by A (A's wait site is set just before the join records its awaiter).
        return b != tasks.end() && b->second["waits_on"]["kind"].s == "gather" &&
               awaited_by(b->second) == std::vector<std::uint64_t>{a} && at != tasks.end() &&
               at->second["waits_on"]["kind"].s == "join";
      });
  const auto tasks = by_id(parse(json_text));
  // A: a root awaiting B's join handle.
  ASSERT_TRUE(tasks.count(a));
  EXPECT_EQ(tasks.at(a)["name"].s, "A");
  EXPECT_NE(tasks.at(a)["file"].s.find("dump_tasks_test.cpp"), std::string::npos);
  EXPECT_GT(tasks.at(a)["line"].n, 0);
  EXPECT_EQ(awaited_by(tasks.at(a)), std::vector<std::uint64_t>{});
  EXPECT_EQ(tasks.at(a)["waits_on"]["kind"].s, "join");
  EXPECT_EQ(static_cast<std::uint64_t>(tasks.at(a)["waits_on"]["task"].n), ch.b.load());
  // B: awaited by A, in a gather of three.
  EXPECT_EQ(tasks.at(ch.b.load())["name"].s, "B");
  EXPECT_EQ(awaited_by(tasks.at(ch.b.load())), std::vector<std::uint64_t>{a});
  EXPECT_EQ(tasks.at(ch.b.load())["waits_on"]["children"].n, 3);
  // The Cs: awaited by B (through the gather's children), each with its own wait.
  for (const auto& c : ch.c) {
    EXPECT_EQ(awaited_by(tasks.at(c.load())), std::vector<std::uint64_t>{ch.b.load()}) << c.load();
  }
  const json& sleeping = tasks.at(ch.c[0].load())["waits_on"];
  EXPECT_EQ(sleeping["kind"].s, "sleep");
  EXPECT_GT(sleeping["deadline_in_s"].n, 3000);  // an hour, less what the test took
  EXPECT_LE(sleeping["deadline_in_s"].n, 3600);
  EXPECT_EQ(tasks.at(ch.c[1].load())["waits_on"]["kind"].s, "lock");
  const json& reading = tasks.at(ch.c[2].load())["waits_on"];
  EXPECT_EQ(reading["kind"].s, "socket_read");
  EXPECT_EQ(reading["endpoint"].s, "tcp 127.0.0.1:" + std::to_string(ch.port.load()));
  // The holder: a root of its own.
  EXPECT_EQ(tasks.at(hold.id())["waits_on"]["kind"].s, "event");
  EXPECT_EQ(awaited_by(tasks.at(hold.id())), std::vector<std::uint64_t>{});

  // The same as a tree: A at the root, B under it, the Cs under B (printed: README's example).
  const std::string text = coreio::dump_tasks(rt);
  std::fputs(text.c_str(), stdout);
  const std::string la = line_of(text, a), lb = line_of(text, ch.b.load());
  EXPECT_EQ(la.rfind("\u2514\u2500\u2500 task " + std::to_string(a) + " 'A' spawned at ", 0), 0u)
      << text;
  EXPECT_NE(la.find(": awaiting task " + std::to_string(ch.b.load())), std::string::npos) << text;
  EXPECT_EQ(lb.rfind("    \u2514\u2500\u2500 task " + std::to_string(ch.b.load()) + " 'B'", 0), 0u)
      << text;
  EXPECT_NE(lb.find(": gather of 3 children"), std::string::npos) << text;
  const std::array<std::string, 3> waits = {
      ": sleeping until +", ": waiting on lock",
      ": reading tcp 127.0.0.1:" + std::to_string(ch.port.load())};
  for (std::size_t i = 0; i < 3; ++i) {
    const std::string l = line_of(text, ch.c[i].load());
    EXPECT_EQ(l.rfind("        ", 0), 0u) << text;  // two levels down
    EXPECT_NE(l.find(waits[i]), std::string::npos) << text;
  }
  EXPECT_NE(
      text.find("        \u251c\u2500\u2500 task " + std::to_string(ch.c[0].load()) + " 'C_sleep'"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find("        \u2514\u2500\u2500 task " + std::to_string(ch.c[2].load()) + " 'C_read'"),
      std::string::npos)
      << text;

  // Cancelling A cancels the chain down to the Cs.
  ha.cancel();
  EXPECT_THROW(ha.get(), coreio::cancelled_error);
  ch.release.set();
  hold.get();
  EXPECT_EQ(coreio::dump_tasks(rt), "");
  EXPECT_EQ(parse(coreio::dump_tasks(rt, coreio::task_dump_format::json))["tasks"].a.size(), 0u);
}

// ---- task_group and wait_for -------------------------------------------------------------------

coreio::task<void> group_owner(std::shared_ptr<std::array<std::atomic<std::uint64_t>, 2>> kids) {
  coreio::task_group g;
  auto k1 = g.spawn(c_sleep());
  auto k2 = g.spawn(c_sleep());
  (*kids)[0] = k1.id();
  (*kids)[1] = k2.id();
  co_await g.join();
}

coreio::task<void> waiter_for(std::shared_ptr<std::atomic<std::uint64_t>> child) {
  auto h = coreio::spawn(c_sleep(), "timed");
  *child = h.id();
  co_await coreio::wait_for(std::move(h), 1h);
}

TEST(DumpTasksTest, TaskGroupAndWaitForEdges) {
  coreio::runtime rt{{.workers = 2}};
  auto kids = std::make_shared<std::array<std::atomic<std::uint64_t>, 2>>();
  auto child = std::make_shared<std::atomic<std::uint64_t>>(0);
  auto hg = rt.spawn(group_owner(kids), "owner");
  auto hw = rt.spawn(waiter_for(child), "waiter");
  const std::string d = dump_until(rt, coreio::task_dump_format::json, [&](const std::string& s) {
    const auto t = by_id(parse(s));
    auto g = t.find(hg.id());
    auto w = t.find(hw.id());
    // Each edge is recorded when its awaiter gets there: wait until both are.
    auto awaited = [&](std::uint64_t id) {
      auto it = t.find(id);
      return it != t.end() && it->second["state"].s == "waiting" &&
             !it->second["awaited_by"].a.empty();
    };
    return g != t.end() && g->second["waits_on"]["kind"].s == "task_group" && w != t.end() &&
           w->second["waits_on"]["kind"].s == "wait_for" && awaited((*kids)[0].load()) &&
           awaited((*kids)[1].load()) && awaited(child->load());
  });
  const auto t = by_id(parse(d));
  for (const auto& kk : *kids) {
    const std::uint64_t k = kk.load();
    EXPECT_EQ(awaited_by(t.at(k)), std::vector<std::uint64_t>{hg.id()}) << d;
    EXPECT_EQ(t.at(k)["waits_on"]["kind"].s, "sleep");
  }
  EXPECT_EQ(awaited_by(t.at(child->load())), std::vector<std::uint64_t>{hw.id()}) << d;
  EXPECT_GT(t.at(hw.id())["waits_on"]["deadline_in_s"].n, 3000);
  const std::string text = coreio::dump_tasks(rt);
  EXPECT_NE(line_of(text, hg.id()).find(": joining a task_group"), std::string::npos) << text;
  EXPECT_EQ(line_of(text, (*kids)[0].load()).rfind("    ", 0), 0u) << text;
  EXPECT_NE(line_of(text, hw.id()).find(": wait_for, deadline +"), std::string::npos) << text;
  EXPECT_EQ(line_of(text, child->load()).rfind("    \u2514\u2500\u2500 task", 0), 0u) << text;
  hg.cancel();
  hw.cancel();
  EXPECT_THROW(hg.get(), coreio::cancelled_error);
  EXPECT_THROW(hw.get(), coreio::cancelled_error);
}

// ---- uncancellable ------------------------------------------------------------------------------

/// Cancelled at its first sleep, it awaits a clean-up under uncancellable until `done` is set.
coreio::task<void> cleans_up_when_cancelled(coreio::event* done) {
  std::exception_ptr cancelled;
  try {
    co_await coreio::sleep_for(1h);
  } catch (const coreio::cancelled_error&) {
    cancelled = std::current_exception();
  }
  auto wait_done = [](coreio::event* e) -> coreio::task<void> { co_await e->wait(); }(done);
  co_await coreio::uncancellable(std::move(wait_done));
  std::rethrow_exception(cancelled);
}

TEST(DumpTasksTest, ATaskInAnUncancellableCleanUpShowsAsWaitingThere) {
  // The clean-up runs inline under a scope of its own; the task's own scope, already cancelled,
  // still records where it waits (it showed as "running or ready").
  coreio::runtime rt{{.workers = 2}};
  coreio::event done;
  auto h = rt.spawn(cleans_up_when_cancelled(&done), "cleaner");
  (void)dump_until(rt, coreio::task_dump_format::json, [&](const std::string& s) {
    const auto t = by_id(parse(s));
    auto it = t.find(h.id());
    return it != t.end() && it->second["waits_on"]["kind"].s == "sleep";
  });
  h.cancel();
  const std::string d = dump_until(rt, coreio::task_dump_format::json, [&](const std::string& s) {
    const auto t = by_id(parse(s));
    auto it = t.find(h.id());
    return it != t.end() && it->second["waits_on"]["kind"].s == "uncancellable";
  });
  EXPECT_EQ(by_id(parse(d)).at(h.id())["state"].s, "waiting") << d;
  const std::string text = coreio::dump_tasks(rt);
  EXPECT_NE(line_of(text, h.id()).find(": awaiting an uncancellable clean-up (cancelling)"),
            std::string::npos)
      << text;
  done.set();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
}

// ---- the caller's runtime ----------------------------------------------------------------------

TEST(DumpTasksTest, FromATaskItShowsItselfRunning) {
  coreio::runtime rt{{.workers = 1}};
  auto h = rt.spawn([]() -> coreio::task<std::string> { co_return coreio::dump_tasks(); }(), "me");
  const std::uint64_t id = h.id();
  const std::string text = h.get();
  EXPECT_NE(line_of(text, id).find("'me' spawned at "), std::string::npos) << text;
  EXPECT_NE(line_of(text, id).find(": running or ready"), std::string::npos) << text;
  EXPECT_THROW(coreio::dump_tasks(), coreio::usage_error);  // not on a worker
}

}  // namespace
