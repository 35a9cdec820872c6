// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_TESTING_MANUAL_CLOCK_HPP
#define HEARTBEAT_TESTING_MANUAL_CLOCK_HPP

#include <atomic>
#include <chrono>
#include <cstdint>

namespace heartbeat::testing {

/// A steady clock that only moves when a test moves it.
///
/// It meets the standard Clock requirements, so it can stand in for
/// `std::chrono::steady_clock` anywhere heartbeat takes a clock parameter,
/// including as the clock of an Asio `basic_waitable_timer` (pair it with
/// wait traits that do not sleep on real time).
///
/// The time is static, as Clock::now() must be; give each independent test
/// fixture its own `Tag` type to get an independent clock. Reads and writes
/// are atomic, so a test thread may advance time that an io_context thread
/// reads.
///
/// @code
/// using clock = heartbeat::testing::manual_clock;
/// clock::reset();
/// heartbeat::registry<int, clock> reg;
/// reg.touch(1, clock::now());
/// clock::advance(std::chrono::seconds(5));
/// reg.expire(clock::now()); // peer 1 times out
/// @endcode
template <class Tag = void>
class basic_manual_clock {
public:
    using rep = std::int64_t;
    using period = std::nano;
    using duration = std::chrono::duration<rep, period>;
    using time_point = std::chrono::time_point<basic_manual_clock, duration>;
    static constexpr bool is_steady = true;

    /// The current manual time.
    static time_point now() noexcept
    {
        return time_point(duration(ticks_.load(std::memory_order_acquire)));
    }

    /// Moves time forward by `d`. A negative `d` is ignored: the clock is
    /// steady.
    static void advance(duration d) noexcept
    {
        if (d.count() > 0)
            ticks_.fetch_add(d.count(), std::memory_order_acq_rel);
    }

    /// Sets the time to `t` if it is later than now; never moves back.
    static void advance_to(time_point t) noexcept
    {
        rep cur = ticks_.load(std::memory_order_acquire);
        const rep want = t.time_since_epoch().count();
        while (cur < want
               && !ticks_.compare_exchange_weak(cur, want,
                                                std::memory_order_acq_rel))
        {
        }
    }

    /// Returns the clock to its epoch. Only for the start of a test: moving
    /// a steady clock back under a live component breaks its contract.
    static void reset() noexcept { ticks_.store(0, std::memory_order_release); }

private:
    static inline std::atomic<rep> ticks_{0};
};

/// The default manual clock. Tests that run concurrently should each use
/// their own `basic_manual_clock<Tag>`.
using manual_clock = basic_manual_clock<>;

} // namespace heartbeat::testing

#endif
