// src/http/pool.cpp — the connection pool (protocol in pool.hpp).
#include "http/pool.hpp"

#include <utility>

#include <coreio/http/errors.hpp>
#include <coreio/spawn.hpp>

namespace coreio::http::detail {

namespace {

task<void> wait_event(coreio::event* e) { co_await e->wait(); }

}  // namespace

pool::pool(std::size_t limit, std::size_t limit_per_host)
    : limit_(limit), limit_per_host_(limit_per_host), shards_(new shard[shard_count]) {}

pool::~pool() { close(); }

std::size_t pool::shard_index() const noexcept {
  const int w = coreio::current_worker();
  return w < 0 ? 0 : static_cast<std::size_t>(w) % shard_count;
}

std::size_t pool::open() const noexcept {
  std::lock_guard<std::mutex> g(m_);
  return total_;
}

bool pool::can_open_locked(const std::string& key) const {
  if (limit_ != 0 && total_ >= limit_) return false;
  if (limit_per_host_ == 0) return true;
  const auto it = per_host_.find(key);
  return it == per_host_.end() || it->second < limit_per_host_;
}

void pool::reserve_locked(const std::string& key) {
  ++total_;
  ++per_host_[key];
}

void pool::release_slot_locked(const std::string& key) {
  --total_;
  const auto it = per_host_.find(key);
  if (it != per_host_.end() && --it->second == 0) per_host_.erase(it);
}

std::unique_ptr<connection> pool::take_idle(const std::string& key,
                                            std::vector<std::unique_ptr<connection>>& dead,
                                            std::chrono::steady_clock::time_point now) {
  if (idle_count_.load(std::memory_order_relaxed) == 0) return nullptr;
  const std::size_t first = shard_index();
  for (std::size_t i = 0; i < shard_count; ++i) {
    shard& s = shards_[(first + i) % shard_count];
    std::lock_guard g(s.m);
    const auto it = s.idle.find(key);
    if (it == s.idle.end()) continue;
    auto& q = it->second;
    // Expired ones are the oldest: drop them from the front.
    while (!q.empty() && q.front()->idle_deadline <= now) {
      dead.push_back(std::move(q.front()));
      q.pop_front();
      idle_count_.fetch_sub(1, std::memory_order_relaxed);
    }
    std::unique_ptr<connection> c;
    if (!q.empty()) {
      c = std::move(q.back());
      q.pop_back();
      idle_count_.fetch_sub(1, std::memory_order_relaxed);
    }
    // An origin's emptied queue stays for the next put_back (erasing it freed the deque and the
    // node, and the put-back made them again: 4 allocations per request when every connection is
    // in use), unless the shard holds many origins.
    if (q.empty() && s.idle.size() > kept_empty_origins) s.idle.erase(it);
    if (c) return c;
  }
  return nullptr;
}

std::unique_ptr<connection> pool::take_any_idle(const std::string& not_key) {
  if (idle_count_.load(std::memory_order_relaxed) == 0) return nullptr;
  for (std::size_t i = 0; i < shard_count; ++i) {
    shard& s = shards_[i];
    std::lock_guard g(s.m);
    for (auto it = s.idle.begin(); it != s.idle.end(); ++it) {
      if (it->first == not_key || it->second.empty()) continue;
      std::unique_ptr<connection> c = std::move(it->second.front());
      it->second.pop_front();
      if (it->second.empty() && s.idle.size() > kept_empty_origins) s.idle.erase(it);
      idle_count_.fetch_sub(1, std::memory_order_relaxed);
      return c;
    }
  }
  return nullptr;
}

void pool::pump_locked(std::vector<std::shared_ptr<waiter>>& wake,
                       std::vector<std::unique_ptr<connection>>& dead,
                       std::vector<std::unique_ptr<connection>>& evicted) {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    waiter& w = **it;
    std::unique_ptr<connection> c = w.fresh ? nullptr : take_idle(w.key, dead, now);
    bool got = c != nullptr;
    if (!got && can_open_locked(w.key)) {
      reserve_locked(w.key);
      got = true;
    }
    if (!got && w.fresh) {
      // A retry at the limits: an idle connection of its own origin gives up its slot (the
      // origin's counts stay).
      if (std::unique_ptr<connection> victim = take_idle(w.key, dead, now)) {
        victim->close();
        closed_.fetch_add(1, std::memory_order_relaxed);
        evicted.push_back(std::move(victim));
        got = true;
      }
    }
    if (!got && limit_ != 0 && total_ >= limit_) {
      // Only the total limit may be in the way: make room by closing another origin's idle one.
      const bool host_ok = limit_per_host_ == 0 || !per_host_.contains(w.key) ||
                           per_host_.at(w.key) < limit_per_host_;
      if (host_ok) {
        if (std::unique_ptr<connection> victim = take_any_idle(w.key)) {
          // The victim's slot passes to w: total_ stays, the per-origin counts move.
          release_slot_locked(victim->key);
          reserve_locked(w.key);
          victim->close();
          closed_.fetch_add(1, std::memory_order_relaxed);
          evicted.push_back(std::move(victim));
          got = true;
        }
      }
    }
    if (!got) {
      ++it;
      continue;
    }
    w.served = true;
    w.conn = std::move(c);
    wake.push_back(std::move(*it));
    it = waiters_.erase(it);
    waiting_.fetch_sub(1, std::memory_order_seq_cst);
  }
}

void pool::finish(std::vector<std::shared_ptr<waiter>>& wake,
                  std::vector<std::unique_ptr<connection>>& dead) noexcept {
  for (auto& c : dead) c->close();
  dead.clear();
  for (auto& w : wake) w->ready.set();
  wake.clear();
}

std::unique_ptr<connection> pool::try_reuse(const std::string& key, bool retryable) {
  if (closing_.load(std::memory_order_acquire)) throw error("http: the client was closed");
  if (idle_count_.load(std::memory_order_relaxed) == 0) return nullptr;  // a hint: acquire looks
  std::vector<std::unique_ptr<connection>> dead;
  const auto now = std::chrono::steady_clock::now();
  for (;;) {
    std::unique_ptr<connection> c = take_idle(key, dead, now);
    for (auto& d : dead) discard(std::move(d));
    dead.clear();
    if (!c) return nullptr;
    if (c->reusable_now(now, retryable)) return c;
    discard(std::move(c));
  }
}

task<pool_grant> pool::acquire(const std::string& key, bool fresh, bool retryable, limit wait) {
  std::vector<std::unique_ptr<connection>> dead;
  // Declared before the locks: destroyed after them (a stream's destructor posts to its loop).
  std::vector<std::unique_ptr<connection>> evicted;
  std::vector<std::shared_ptr<waiter>> wake;
  bool waited = false;
  for (;;) {
    if (closing_.load(std::memory_order_acquire)) throw error("http: the client was closed");
    if (!fresh) {
      const auto now = std::chrono::steady_clock::now();
      std::unique_ptr<connection> c = take_idle(key, dead, now);
      for (auto& d : dead) discard(std::move(d));
      dead.clear();
      if (c) {
        if (c->reusable_now(now, retryable)) co_return pool_grant{std::move(c), waited};
        discard(std::move(c));
        continue;
      }
    }
    std::shared_ptr<waiter> w;
    {
      std::lock_guard<std::mutex> g(m_);
      if (closed_flag_) throw error("http: the client was closed");
      if (waiters_.empty() && can_open_locked(key)) {
        reserve_locked(key);
        co_return pool_grant{nullptr, waited};
      }
      w = std::make_shared<waiter>(key, fresh);
      waiters_.push_back(w);
      waiting_.fetch_add(1, std::memory_order_seq_cst);
      queued_.fetch_add(1, std::memory_order_relaxed);
      pump_locked(wake, dead, evicted);
    }
    for (auto& d : dead) discard(std::move(d));
    dead.clear();
    // Released slots of the victims above were re-reserved inside pump; discard() frees only the
    // slots of the expired ones it closes, which is what they held.
    finish(wake, dead);
    waited = true;
    std::exception_ptr failure;
    try {
      auto t = wait_event(&w->ready);
      co_await timed(std::move(t), wait, "waiting for a connection slot");
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {
      withdraw(w);
      std::rethrow_exception(failure);
    }
    std::unique_ptr<connection> c;
    {
      std::lock_guard<std::mutex> g(m_);
      if (w->failed) throw error("http: the client was closed");
      c = std::move(w->conn);
    }
    if (!c) co_return pool_grant{nullptr, true};
    if (c->reusable_now(std::chrono::steady_clock::now(), retryable))
      co_return pool_grant{std::move(c), true};
    discard(std::move(c));
  }
}

void pool::withdraw(const std::shared_ptr<waiter>& w) noexcept {
  std::unique_ptr<connection> c;
  bool slot = false;
  {
    std::lock_guard<std::mutex> g(m_);
    if (!w->served) {
      if (!w->failed) {
        waiters_.remove(w);
        waiting_.fetch_sub(1, std::memory_order_seq_cst);
      }
      return;
    }
    c = std::move(w->conn);
    slot = c == nullptr;
  }
  if (c) put_back(std::move(c));
  else if (slot) closed_one(w->key);
}

void pool::put_back(std::unique_ptr<connection> c) noexcept {
  if (closing_.load(std::memory_order_acquire)) {
    discard(std::move(c));
    return;
  }
  try {
    {
      shard& s = shards_[shard_index()];
      std::lock_guard g(s.m);
      s.idle[c->key].push_back(std::move(c));
      idle_count_.fetch_add(1, std::memory_order_relaxed);
    }
  } catch (...) {
    if (c) discard(std::move(c));
    return;
  }
  if (waiting_.load(std::memory_order_seq_cst) == 0) return;
  std::vector<std::shared_ptr<waiter>> wake;
  std::vector<std::unique_ptr<connection>> dead;
  // Declared before the locks: destroyed after them (a stream's destructor posts to its loop).
  std::vector<std::unique_ptr<connection>> evicted;
  {
    std::lock_guard<std::mutex> g(m_);
    try {
      pump_locked(wake, dead, evicted);
    } catch (...) {
    }
  }
  for (auto& d : dead) discard(std::move(d));
  dead.clear();
  finish(wake, dead);
}

void pool::discard(std::unique_ptr<connection> c) noexcept {
  if (!c) return;
  c->close();
  closed_.fetch_add(1, std::memory_order_relaxed);
  closed_one(c->key);
}

void pool::hold(connection* c) noexcept {
  c->held_shard = shard_index();
  shard& s = shards_[c->held_shard];
  std::lock_guard g(s.m);
  c->held_prev = nullptr;
  c->held_next = s.held;
  if (s.held != nullptr) s.held->held_prev = c;
  s.held = c;
  // Under the lock: either close() walks this shard after this hold, or we see closing_ here.
  if (closing()) c->close();
}

void pool::unhold(connection* c) noexcept {
  shard& s = shards_[c->held_shard];
  std::lock_guard g(s.m);
  if (c->held_prev != nullptr) c->held_prev->held_next = c->held_next;
  else s.held = c->held_next;
  if (c->held_next != nullptr) c->held_next->held_prev = c->held_prev;
  c->held_prev = c->held_next = nullptr;
}

void pool::closed_one(const std::string& key) noexcept {
  std::vector<std::shared_ptr<waiter>> wake;
  std::vector<std::unique_ptr<connection>> dead;
  // Declared before the locks: destroyed after them (a stream's destructor posts to its loop).
  std::vector<std::unique_ptr<connection>> evicted;
  {
    std::lock_guard<std::mutex> g(m_);
    release_slot_locked(key);
    try {
      pump_locked(wake, dead, evicted);
    } catch (...) {
    }
  }
  for (auto& d : dead) discard(std::move(d));
  dead.clear();
  finish(wake, dead);
}

void pool::close() noexcept {
  closing_.store(true, std::memory_order_release);
  std::vector<std::shared_ptr<waiter>> wake;
  std::vector<std::unique_ptr<connection>> dead;
  // Declared before the locks: destroyed after them (a stream's destructor posts to its loop).
  std::vector<std::unique_ptr<connection>> evicted;
  {
    std::lock_guard<std::mutex> g(m_);
    closed_flag_ = true;
    for (auto& w : waiters_) {
      w->failed = true;
      wake.push_back(w);
    }
    waiters_.clear();
    waiting_.store(0, std::memory_order_seq_cst);
  }
  for (std::size_t i = 0; i < shard_count; ++i) {
    std::lock_guard g(shards_[i].m);
    for (auto& [key, q] : shards_[i].idle)
      for (auto& c : q) dead.push_back(std::move(c));
    shards_[i].idle.clear();
  }
  idle_count_.store(0, std::memory_order_relaxed);
  for (std::size_t i = 0; i < shard_count; ++i) {
    std::lock_guard g(shards_[i].m);
    for (connection* c = shards_[i].held; c != nullptr; c = c->held_next) c->close();
  }
  for (auto& d : dead) discard(std::move(d));
  dead.clear();
  finish(wake, dead);
}

}  // namespace coreio::http::detail
