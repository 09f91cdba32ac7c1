// frame_alloc.cpp — coroutine frame allocation: mimalloc when COREIO_MIMALLOC, else operator new.
//
// mimalloc keeps a free list per thread and size class and frees cross-thread frames (a task that
// ends on another worker) through a lock-free delayed list, which is the pattern of a work-stealing
// runtime: allocate on the spawning worker, free on whichever one ran the task last.
#include <coreio/detail/sched_hooks.hpp>

#include <new>

#if defined(COREIO_MIMALLOC)
#include <mimalloc.h>
#endif

namespace coreio::detail {

void* frame_alloc(std::size_t size) {
#if defined(COREIO_MIMALLOC)
  void* p = mi_malloc(size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
#else
  return ::operator new(size);
#endif
}

const char* frame_allocator_name() noexcept {
#if defined(COREIO_MIMALLOC)
  return "mimalloc";
#else
  return "operator new";
#endif
}

void frame_free(void* p, std::size_t size) noexcept {
#if defined(COREIO_MIMALLOC)
  mi_free_size(p, size);
#else
  ::operator delete(p, size);
#endif
}

}  // namespace coreio::detail
