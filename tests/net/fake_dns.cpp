// net/fake_dns.cpp — the test binary's getaddrinfo (fake_dns.hpp says what it does).
//
// Interposition: this definition in the executable wins over libc's for every caller in the
// process, coreio's static library included; the real one is reached with dlsym(RTLD_NEXT) (under
// a sanitizer that is the sanitizer's interceptor, which calls libc's). A list this file builds is
// a chain of lists from the real getaddrinfo, so libc's freeaddrinfo frees it.
//
// The state is allocated once and never freed: a resolver thread may still be inside a slow lookup
// here when the test binary's static destructors run.
#include "fake_dns.hpp"

#include <dlfcn.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>

namespace {

using getaddrinfo_fn = int (*)(const char*, const char*, const addrinfo*, addrinfo**);

struct state {
  std::mutex mu;
  std::condition_variable released_cv;
  // Bumped by release_slow(); a slow lookup returns once it differs from what it saw on entry.
  std::uint64_t release_generation = 0;                       // guarded by mu
  std::map<std::string, std::vector<std::string>> addresses;  // guarded by mu
  std::map<std::string, std::size_t> calls_by_name;           // guarded by mu
  std::size_t calls = 0;                                      // guarded by mu
  std::size_t slow_in_flight = 0;                             // guarded by mu
  std::size_t slow_peak = 0;                                  // guarded by mu
};

state& st() {
  static state* const s = new state();
  return *s;
}

getaddrinfo_fn real_getaddrinfo() {
  static const getaddrinfo_fn fn =
      reinterpret_cast<getaddrinfo_fn>(::dlsym(RTLD_NEXT, "getaddrinfo"));
  return fn;
}

bool ends_with(const std::string& s, const char* suffix) {
  const std::size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

/// Resolves numeric addresses through the real getaddrinfo and chains the lists in order.
int resolve_numeric(const std::vector<std::string>& addrs, const char* service,
                    const addrinfo* hints, addrinfo** res) {
  addrinfo h{};
  if (hints != nullptr) h = *hints;
  h.ai_flags = (h.ai_flags & ~AI_ADDRCONFIG) | AI_NUMERICHOST;
  h.ai_family = AF_UNSPEC;
  addrinfo* head = nullptr;
  addrinfo** tail = &head;
  for (const std::string& a : addrs) {
    addrinfo* one = nullptr;
    const int rc = real_getaddrinfo()(a.c_str(), service, &h, &one);
    if (rc != 0) {
      if (head != nullptr) ::freeaddrinfo(head);
      return rc;
    }
    *tail = one;
    while (*tail != nullptr) tail = &(*tail)->ai_next;
  }
  *res = head;
  return head != nullptr ? 0 : EAI_NONAME;
}

}  // namespace

extern "C" int getaddrinfo(const char* node, const char* service, const addrinfo* hints,
                           addrinfo** res) {
  const std::string name = node != nullptr ? node : "";
  state& s = st();
  std::vector<std::string> fixed;
  bool slow = false;
  {
    std::unique_lock<std::mutex> lk(s.mu);
    ++s.calls;
    ++s.calls_by_name[name];
    if (auto it = s.addresses.find(name); it != s.addresses.end()) fixed = it->second;
    slow = ends_with(name, ".slow.test");
    if (slow) {
      s.slow_peak = std::max(s.slow_peak, ++s.slow_in_flight);
      const std::uint64_t seen = s.release_generation;
      s.released_cv.wait_for(lk, std::chrono::seconds(10),
                             [&] { return s.release_generation != seen; });
      --s.slow_in_flight;
    }
  }
  if (slow) return resolve_numeric({"127.0.0.1"}, service, hints, res);
  if (ends_with(name, ".nx.test")) return EAI_NONAME;
  if (!fixed.empty()) return resolve_numeric(fixed, service, hints, res);
  return real_getaddrinfo()(node, service, hints, res);
}

namespace coreio_net_test::fake_dns {

void set_addresses(const std::string& name, std::vector<std::string> addresses) {
  std::lock_guard<std::mutex> g(st().mu);
  st().addresses[name] = std::move(addresses);
}

void clear_addresses() {
  std::lock_guard<std::mutex> g(st().mu);
  st().addresses.clear();
}

void release_slow() {
  {
    std::lock_guard<std::mutex> g(st().mu);
    ++st().release_generation;
  }
  st().released_cv.notify_all();
}

std::size_t slow_in_flight() {
  std::lock_guard<std::mutex> g(st().mu);
  return st().slow_in_flight;
}

std::size_t slow_in_flight_peak() {
  std::lock_guard<std::mutex> g(st().mu);
  return st().slow_peak;
}

std::size_t calls_for(const std::string& name) {
  std::lock_guard<std::mutex> g(st().mu);
  auto it = st().calls_by_name.find(name);
  return it == st().calls_by_name.end() ? 0 : it->second;
}

std::size_t calls() {
  std::lock_guard<std::mutex> g(st().mu);
  return st().calls;
}

void reset_counts() {
  std::lock_guard<std::mutex> g(st().mu);
  st().calls = 0;
  st().calls_by_name.clear();
  st().slow_peak = st().slow_in_flight;
}

}  // namespace coreio_net_test::fake_dns
