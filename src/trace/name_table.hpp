// trace/name_table.hpp — interned task names: a name given at spawn becomes a small index that a
// trace event can carry, and stays readable until the table dies.
//
// intern() takes a lock (names are given at spawn, a rare path compared with polls); lookup by
// index takes it too. Index 0 is "no name". Strings never move (std::deque keeps them in place),
// so a string_view returned by name() stays valid for the table's life.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace coreio::detail::trace {

class name_table {
 public:
  /// The index of `name` (the same index for the same text); 0 for an empty name. Any thread.
  std::uint32_t intern(std::string_view name) {
    if (name.empty()) return 0;
    std::lock_guard lock(mu_);
    auto it = index_.find(name);
    if (it != index_.end()) return it->second;
    names_.emplace_back(name);
    const auto i = static_cast<std::uint32_t>(names_.size());
    index_.emplace(names_.back(), i);
    return i;
  }

  /// The text of index i; empty for 0 or an unknown index. Any thread.
  std::string_view name(std::uint32_t i) const {
    std::lock_guard lock(mu_);
    return i == 0 || i > names_.size() ? std::string_view{} : std::string_view(names_[i - 1]);
  }

 private:
  mutable std::mutex mu_;
  std::deque<std::string> names_;                              // guarded by mu_
  std::unordered_map<std::string_view, std::uint32_t> index_;  // views into names_; by mu_
};

/// The process's table of task names (spawn's names; the tracer and dump_tasks read it).
name_table& task_names() noexcept;

}  // namespace coreio::detail::trace
