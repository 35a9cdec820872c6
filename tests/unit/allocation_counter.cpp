#include "allocation_counter.hpp"

#include <cstdlib>
#include <new>

namespace {
thread_local long allocations = 0;
}

long heartbeat_test::allocations_on_this_thread() noexcept { return allocations; }

namespace {
void* counted_alloc(std::size_t n) noexcept
{
    ++allocations;
    return std::malloc(n ? n : 1);
}
void* counted_alloc_or_throw(std::size_t n)
{
    if (void* p = counted_alloc(n))
        return p;
    throw std::bad_alloc();
}
} // namespace

// Every replaceable form that pairs with std::free, so no allocation
// function of the runtime meets a deallocation function of ours.
void* operator new(std::size_t n) { return counted_alloc_or_throw(n); }
void* operator new[](std::size_t n) { return counted_alloc_or_throw(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
