#include <heartbeat/core/fixed_misses.hpp>

#include <heartbeat/testing/manual_clock.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>

namespace {
using test_clock = heartbeat::testing::basic_manual_clock<struct fixed_misses_tag>;
using policy = heartbeat::fixed_misses<test_clock>;
using namespace std::chrono_literals;
} // namespace

TEST_CASE("fixed_misses: a peer is offline one tick after N * I + grace", "[fixed_misses]")
{
    policy::options o;
    o.interval = 100ms;
    o.misses = 3;
    o.grace = 20ms;
    const policy p(o);
    const auto s = p.initial_state();
    const test_clock::time_point seen(5s);

    CHECK(p.interval(s) == 100ms);
    CHECK(p.timeout(s) == 320ms);
    // Online at exactly N * I + grace of silence, offline one tick later.
    CHECK(p.offline_at(s, seen) == seen + 320ms + 1ns);
}

TEST_CASE("fixed_misses: announced intervals are clamped", "[fixed_misses]")
{
    policy::options o;
    o.interval = 1s;
    o.misses = 2;
    o.min_interval = 50ms;
    o.max_interval = 10s;
    const policy p(o);
    auto s = p.initial_state();

    CHECK(p.set_interval(s, 1ms) == 50ms);
    CHECK(p.interval(s) == 50ms);
    CHECK(p.timeout(s) == 100ms);
    CHECK(p.set_interval(s, 1h) == 10s);
    CHECK(p.set_interval(s, 250ms) == 250ms);
    CHECK(p.set_interval(s, 50ms) == 50ms);  // bounds are inclusive
    CHECK(p.set_interval(s, 10s) == 10s);
}

TEST_CASE("fixed_misses: the default interval is clamped too", "[fixed_misses]")
{
    policy::options o;
    o.interval = 1ms;
    o.min_interval = 20ms;
    const policy p(o);
    CHECK(p.interval(p.initial_state()) == 20ms);
}

TEST_CASE("fixed_misses: nonsense options are refused", "[fixed_misses]")
{
    policy::options o;
    o.misses = 0;
    CHECK_THROWS_AS(policy(o), std::invalid_argument);
    o = {};
    o.min_interval = 0ms;
    CHECK_THROWS_AS(policy(o), std::invalid_argument);
    o = {};
    o.min_interval = 2s;
    o.max_interval = 1s;
    CHECK_THROWS_AS(policy(o), std::invalid_argument);
    o = {};
    o.grace = -1ms;
    CHECK_THROWS_AS(policy(o), std::invalid_argument);
}
