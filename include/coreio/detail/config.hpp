// coreio/detail/config.hpp — version and compiler checks shared by every header.
#pragma once

#define COREIO_VERSION_MAJOR 0
#define COREIO_VERSION_MINOR 1
#define COREIO_VERSION_PATCH 0

#if !defined(__cpp_impl_coroutine) || __cpp_impl_coroutine < 201902L
#error "coreio needs C++20 coroutines (g++ 11+ or clang 14+ with -std=c++20)"
#endif

#if defined(__GNUC__)
#define COREIO_LIKELY(x) __builtin_expect(!!(x), 1)
#define COREIO_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define COREIO_LIKELY(x) (x)
#define COREIO_UNLIKELY(x) (x)
#endif
