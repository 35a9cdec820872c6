// Test support: counts heap allocations made on the calling thread, to
// prove that hot paths allocate nothing. The replacement operator new lives
// in its own translation unit so that no caller sees (and inlines) it.
#ifndef HEARTBEAT_TESTS_ALLOCATION_COUNTER_HPP
#define HEARTBEAT_TESTS_ALLOCATION_COUNTER_HPP

namespace heartbeat_test {
long allocations_on_this_thread() noexcept;
} // namespace heartbeat_test

#endif
