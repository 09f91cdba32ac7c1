// net/resolver_pool.cpp — the getaddrinfo threads (protocol: resolver_pool.hpp).
#include "net/resolver_pool.hpp"

#include <coreio/net/resolve.hpp>

#include <netdb.h>
#include <pthread.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <system_error>
#include <thread>

#include <asio/ip/address.hpp>

namespace coreio::detail {

resolver_pool& resolver_pool::instance() {
  // Leaked on purpose (file comment of resolver_pool.hpp): detached threads may outlive main.
  static resolver_pool* const pool = new resolver_pool();
  return *pool;
}

void resolver_pool::submit(std::shared_ptr<lookup> l) {
  std::unique_lock<std::mutex> lk(mu_);
  queue_.push_back(std::move(l));
  if (queue_.size() > idle_ && live_ < net::resolver_max_lookups) {
    try {
      std::thread(&resolver_pool::thread_main, this).detach();
      ++live_;
    } catch (...) {
      if (live_ == 0) {
        // Nothing would ever run it: refuse it.
        queue_.pop_back();
        throw;
      }
      // A live thread takes it when it is free.
    }
  }
  lk.unlock();
  work_cv_.notify_one();
}

void resolver_pool::thread_main() {
  pthread_setname_np(pthread_self(), "coreio-resolve");
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    if (!queue_.empty()) {
      std::shared_ptr<lookup> l = std::move(queue_.front());
      queue_.pop_front();
      lk.unlock();
      // Relaxed: see lookup::abandoned.
      if (!l->abandoned.load(std::memory_order_relaxed)) run_lookup(*l);
      l.reset();  // the last reference may free the lookup: outside the lock
      lk.lock();
      continue;
    }
    ++idle_;
    const bool woken = work_cv_.wait_for(lk, k_keep_alive, [this] { return !queue_.empty(); });
    --idle_;
    if (!woken) break;
  }
  --live_;
}

namespace {

/// getaddrinfo's errors: EAI_* values, messages from gai_strerror.
class gai_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "getaddrinfo"; }
  std::string message(int ev) const override { return ::gai_strerror(ev); }
};

}  // namespace

void run_lookup(lookup& l) noexcept {
  try {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;  // one entry per address (not one per socket type)
    // Only the families this host has an address of (as Asio's resolver asks by default).
    hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV;
    const std::string service = std::to_string(l.port);
    addrinfo* list = nullptr;
    const int rc = ::getaddrinfo(l.host.c_str(), service.c_str(), &hints, &list);
    if (rc != 0) {
      const std::error_code ec = rc == EAI_SYSTEM ? std::error_code(errno, std::system_category())
                                                  : std::error_code(rc, net::resolve_category());
      l.result.set_exception(
          std::make_exception_ptr(std::system_error(ec, "coreio::net: resolve '" + l.host + "'")));
      return;
    }
    std::vector<net::endpoint> out;
    std::exception_ptr failure;
    try {
      for (const addrinfo* a = list; a != nullptr; a = a->ai_next) {
        asio::ip::address addr;
        if (a->ai_family == AF_INET) {
          const auto* sin = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
          asio::ip::address_v4::bytes_type b;
          std::copy_n(reinterpret_cast<const unsigned char*>(&sin->sin_addr), b.size(), b.begin());
          addr = asio::ip::address_v4(b);
        } else if (a->ai_family == AF_INET6) {
          const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(a->ai_addr);
          asio::ip::address_v6::bytes_type b;
          std::copy_n(reinterpret_cast<const unsigned char*>(&sin6->sin6_addr), b.size(),
                      b.begin());
          addr = asio::ip::address_v6(b, sin6->sin6_scope_id);
        } else {
          continue;
        }
        net::endpoint e{addr.to_string(), l.port};
        if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(std::move(e));
      }
    } catch (...) {
      failure = std::current_exception();
    }
    ::freeaddrinfo(list);
    if (failure) {
      l.result.set_exception(failure);
    } else if (out.empty()) {
      l.result.set_exception(std::make_exception_ptr(
          std::system_error(std::make_error_code(std::errc::address_not_available),
                            "coreio::net: resolve '" + l.host + "': no addresses")));
    } else {
      l.result.set_value(std::move(out));
    }
  } catch (...) {
    // Out of memory building the error: the promise breaks when the lookup is freed (broken_promise
    // for the awaiter), which is still an answer.
  }
}

}  // namespace coreio::detail

namespace coreio::net {

const std::error_category& resolve_category() noexcept {
  // Leaked: an error_code naming it may be formatted on a pool thread after main returns.
  static const detail::gai_category* const c = new detail::gai_category();
  return *c;
}

}  // namespace coreio::net
