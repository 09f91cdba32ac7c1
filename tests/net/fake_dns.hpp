// net/fake_dns.hpp — a getaddrinfo of the net test binary's own (fake_dns.cpp), so that the resolve
// and Happy Eyeballs tests need no DNS server and control how long a lookup takes.
//
// fake_dns.cpp defines `extern "C" getaddrinfo`, which takes the place of libc's for the whole
// binary (coreio's resolver pool included); it forwards every name it does not know to the real one
// (dlsym(RTLD_NEXT)). Names it knows, all under the reserved ".test" domain (RFC 2606):
//   *.slow.test   blocks until release_slow() (or 10 s, a safety net so that a failing test cannot
//                 hang), then resolves to 127.0.0.1;
//   *.nx.test     fails at once with EAI_NONAME;
//   names given to set_addresses(): resolves at once to those numeric addresses, in that order.
// Every call is counted, so a test can wait for a lookup to be inside getaddrinfo (a probe, not a
// sleep) and check what was looked up.
//
// Thread safety: every function from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace coreio_net_test::fake_dns {

/// Makes `name` resolve to `addresses` (numeric, in this order), until clear_addresses().
void set_addresses(const std::string& name, std::vector<std::string> addresses);
void clear_addresses();

/// Lets every *.slow.test lookup waiting now return.
void release_slow();
/// *.slow.test lookups inside getaddrinfo now.
std::size_t slow_in_flight();
/// The most *.slow.test lookups that were inside getaddrinfo at once since reset_counts().
std::size_t slow_in_flight_peak();
/// getaddrinfo calls for `name` since reset_counts().
std::size_t calls_for(const std::string& name);
/// getaddrinfo calls for any name since reset_counts().
std::size_t calls();
void reset_counts();

/// What a test sets up, undone when it ends: releases the slow lookups and forgets the addresses.
class scope {
 public:
  scope() { reset_counts(); }
  ~scope() {
    release_slow();
    clear_addresses();
  }
  scope(const scope&) = delete;
  scope& operator=(const scope&) = delete;
};

}  // namespace coreio_net_test::fake_dns
