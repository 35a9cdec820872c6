#include <heartbeat/detail/backoff.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

namespace {
using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;
using backoff = heartbeat::detail::backoff<ms>;

backoff::options doubling(ms initial, ms max)
{
    backoff::options o;
    o.initial = initial;
    o.max = max;
    o.multiplier = 2.0;
    return o;
}

std::vector<ms> draws(backoff& b, int n)
{
    std::vector<ms> out;
    for (int i = 0; i < n; ++i)
        out.push_back(b.next());
    return out;
}
} // namespace

TEST_CASE("backoff: the cap grows by the multiplier from initial and stops at max", "[backoff]")
{
    const backoff b(doubling(100ms, 1s), 1);
    CHECK(b.cap(1) == 100ms);
    CHECK(b.cap(2) == 200ms);
    CHECK(b.cap(3) == 400ms);
    CHECK(b.cap(4) == 800ms);
    CHECK(b.cap(5) == 1s);
    CHECK(b.cap(6) == 1s);
    CHECK(b.cap(0) == 100ms); // treated as the first
    // However long the failures went on, no overflow: still max.
    CHECK(b.cap(10'000) == 1s);

    backoff::options slow;
    slow.initial = 100ms;
    slow.max = 10s;
    slow.multiplier = 1.5;
    const backoff s(slow, 1);
    CHECK(s.cap(2) == 150ms);
    CHECK(s.cap(3) == 225ms);
    CHECK(s.cap(4) == 337ms); // 337.5, whole ticks
}

TEST_CASE("backoff: each retry's delay lies in [0, cap(n)] and covers it (fixed seed)", "[backoff]")
{
    // 2,000 sequences of 7 retries: every delay within its attempt's exact
    // bounds, and the draws reach both ends of each window.
    const auto o = doubling(100ms, 1s);
    std::vector<ms> low(8, ms::max()), high(8, ms::zero());
    for (std::uint64_t seed = 1; seed <= 2000; ++seed) {
        backoff b(o, seed);
        for (unsigned n = 1; n <= 7; ++n) {
            const ms d = b.next();
            REQUIRE(b.attempt() == n);
            REQUIRE(d >= 0ms);
            REQUIRE(d <= b.cap(n));
            low[n] = std::min(low[n], d);
            high[n] = std::max(high[n], d);
        }
    }
    for (unsigned n = 1; n <= 7; ++n) {
        const backoff ref(o, 1);
        INFO("attempt " << n);
        CHECK(low[n] <= ref.cap(n) / 20);
        CHECK(high[n] >= ref.cap(n) - ref.cap(n) / 20);
    }
    // The bounds are inclusive: with a cap of one tick both 0 and 1 occur.
    backoff::options tick;
    tick.initial = 1ms;
    tick.max = 1ms;
    tick.multiplier = 1.0;
    backoff t(tick, 7);
    std::set<ms> seen;
    for (int i = 0; i < 200; ++i)
        seen.insert(t.next());
    CHECK(seen == std::set<ms>{0ms, 1ms});
}

TEST_CASE("backoff: the same seed gives the same delays; another seed others", "[backoff]")
{
    const auto o = doubling(100ms, 10s);
    backoff a(o, 42), b(o, 42), c(o, 43);
    const auto da = draws(a, 10);
    CHECK(da == draws(b, 10));
    CHECK(da != draws(c, 10));
}

TEST_CASE("backoff: reset after a success starts again at the first cap", "[backoff]")
{
    backoff b(doubling(100ms, 1s), 5);
    draws(b, 6);
    CHECK(b.attempt() == 6);
    b.reset();
    CHECK(b.attempt() == 0);
    const ms d = b.next();
    CHECK(b.attempt() == 1);
    CHECK(d <= 100ms);
}

TEST_CASE("backoff: a zero initial never waits; the generator is injectable", "[backoff]")
{
    heartbeat::detail::backoff<ms, std::minstd_rand> b(doubling(0ms, 1s), std::minstd_rand(3));
    for (int i = 0; i < 50; ++i)
        CHECK(b.next() == 0ms);

    // Full precision of the duration: nanosecond ticks, a 10 s cap.
    using ns = std::chrono::nanoseconds;
    heartbeat::detail::backoff<ns> fine({ns(1s), ns(10s), 3.0}, 9);
    for (int i = 0; i < 10; ++i)
        CHECK(fine.next() <= ns(10s));
    CHECK(fine.cap(3) == ns(9s));
}

TEST_CASE("backoff: options that cannot pace anything are refused", "[backoff]")
{
    backoff::options shrinking = doubling(100ms, 1s);
    shrinking.multiplier = 0.5;
    CHECK_THROWS_AS(backoff(shrinking, 1), std::invalid_argument);
    backoff::options negative = doubling(-1ms, 1s);
    CHECK_THROWS_AS(backoff(negative, 1), std::invalid_argument);
    // Seed zero asks std::random_device; any delay is still within bounds.
    backoff r(doubling(100ms, 1s), 0);
    CHECK(r.next() <= 100ms);
}

TEST_CASE("backoff: a server's retry-after is spread over [r, r * (1 + spread)], never shortened", "[backoff]")
{
    backoff b(doubling(100ms, 1s), 5);
    ms lowest = 10s, highest = 0ms;
    for (int i = 0; i < 2000; ++i) {
        const ms d = b.spread(5s, 0.5);
        lowest = std::min(lowest, d);
        highest = std::max(highest, d);
    }
    CHECK(lowest >= 5s);
    CHECK(highest <= 7500ms);
    // Spread out, not clustered: 2,000 draws cover most of the 2.5 s.
    CHECK(lowest < 5100ms);
    CHECK(highest > 7400ms);
    CHECK(b.attempt() == 0); // a spread is no retry of its own
    CHECK(b.spread(5s, 0.0) == 5s);
    CHECK(b.spread(5s, -1.0) == 5s);
}
