// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_DETAIL_BACKOFF_HPP
#define HEARTBEAT_DETAIL_BACKOFF_HPP

// The one retry pacing of the library: exponential backoff with full
// jitter. reconnecting_client and the Redis connection both use it. No
// Asio here: the caller arms its own timer with the delay.

#include <chrono>
#include <cmath>
#include <cstdint>
#include <algorithm>
#include <random>
#include <stdexcept>
#include <type_traits>

namespace heartbeat::detail {

/// What a backoff is set to; the same for any generator.
template <class Duration>
struct backoff_options {
    /// The cap of the first retry.
    Duration initial = std::chrono::milliseconds(100);
    /// The largest cap, reached after enough consecutive failures.
    Duration max = std::chrono::seconds(10);
    /// How much the cap grows per consecutive failure; at least 1.
    double multiplier = 2.0;
};

/// Delays for consecutive retries.
///
/// The n-th consecutive retry (n = 1, 2, ...) waits a uniformly random
/// whole number of ticks in [0, cap(n)], where
///
///     cap(n) = min(max, initial * multiplier^(n-1))
///
/// ("full jitter"): clients that lost the same server at the same instant
/// spread their retries over the whole window instead of arriving together.
/// `reset()` after a success starts again at n = 1.
///
/// @tparam Duration a std::chrono::duration with an integral rep.
/// @tparam Generator a uniform random bit generator; tests seed it.
///
/// @par Thread safety
/// Not thread-safe; one per retrying object, used on its strand.
template <class Duration, class Generator = std::mt19937_64>
class backoff {
    static_assert(std::is_integral_v<typename Duration::rep>, "backoff: the duration needs an integral rep");

public:
    using duration = Duration;
    using generator_type = Generator;

    using options = backoff_options<Duration>;

    /// @throws std::invalid_argument if `initial` or `max` is negative or
    /// `multiplier` is below 1 (or not a number).
    backoff(const options& o, Generator gen) : opts_(o), gen_(std::move(gen))
    {
        if (opts_.initial < Duration::zero() || opts_.max < Duration::zero())
            throw std::invalid_argument("heartbeat: backoff durations must not be negative");
        if (!(opts_.multiplier >= 1.0))
            throw std::invalid_argument("heartbeat: backoff multiplier must be at least 1");
    }

    /// Seeds a Generator with `seed`; zero draws a seed from
    /// std::random_device.
    backoff(const options& o, std::uint64_t seed) : backoff(o, Generator(seed_or_random(seed))) {}

    /// The upper bound of the n-th consecutive retry's delay (n >= 1; n = 0
    /// is treated as 1).
    Duration cap(unsigned n) const noexcept
    {
        const double top = static_cast<double>(opts_.max.count());
        const double grown = static_cast<double>(opts_.initial.count())
                             * std::pow(opts_.multiplier, static_cast<double>(n > 0 ? n - 1 : 0));
        // Compared in double, converted only once below `max`: no overflow
        // however many failures came before.
        if (!(grown < top))
            return opts_.max;
        return Duration(static_cast<typename Duration::rep>(grown));
    }

    /// Counts one more consecutive failure and returns how long to wait
    /// before the next attempt: uniform in [0, cap(attempt())].
    Duration next()
    {
        if (attempt_ < max_attempt)
            ++attempt_;
        using rep = typename Duration::rep;
        std::uniform_int_distribution<rep> pick(0, cap(attempt_).count());
        return Duration(pick(gen_));
    }

    /// A uniformly random time in [at_least, at_least * (1 + spread)]: a
    /// server's retry-after, spread so that the clients it refused together
    /// do not all come back at the same instant.
    /// `fraction` is clamped to [0, 10].
    Duration spread(Duration at_least, double fraction)
    {
        using rep = typename Duration::rep;
        const double f = fraction > 0 ? std::min(fraction, 10.0) : 0.0; // NaN too: no spread
        const double extra = static_cast<double>(at_least.count()) * f;
        std::uniform_int_distribution<rep> pick(0, static_cast<rep>(extra));
        return at_least + Duration(pick(gen_));
    }

    /// A success: the next failure is the first again.
    void reset() noexcept { attempt_ = 0; }

    /// Consecutive failures counted since the last reset (the number of the
    /// retry the last next() paced).
    unsigned attempt() const noexcept { return attempt_; }

    const options& get_options() const noexcept { return opts_; }

    /// A seed from std::random_device when `seed` is zero, else `seed`.
    static std::uint64_t seed_or_random(std::uint64_t seed)
    {
        if (seed != 0)
            return seed;
        std::random_device rd;
        return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    }

private:
    static constexpr unsigned max_attempt = 1u << 20; // far past any cap; stops the count wrapping

    options opts_;
    Generator gen_;
    unsigned attempt_ = 0;
};

} // namespace heartbeat::detail

#endif
