// The load governor: a server's own lag turned into a slowdown of its
// peers and an admission verdict, on a manual clock.
#include <heartbeat/core/load_governor.hpp>

#include <heartbeat/testing/manual_clock.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

namespace {
using namespace std::chrono_literals;
using test_clock = heartbeat::testing::basic_manual_clock<struct governor_tag>;
using governor = heartbeat::load_governor<test_clock>;
using time_point = test_clock::time_point;

time_point at(test_clock::duration d) { return time_point(d); }

governor::options fast()
{
    governor::options o;
    o.overload_lag = 20ms;
    o.max_slowdown = 4;
    o.settle = 500ms;
    o.calm = 2s;
    o.smoothing = 100ms;
    return o;
}

// Sweeps every 10 ms from `from` (exclusive) through `to`, each `late`.
// @returns how many of them changed the slowdown; the first change's
// instant goes to `first` when given.
int sweep(governor& g, test_clock::duration from, test_clock::duration to, test_clock::duration late,
          time_point* first = nullptr)
{
    int changes = 0;
    for (auto t = from + 10ms; t <= to; t += 10ms)
        if (g.sample(at(t), late) && changes++ == 0 && first)
            *first = at(t);
    return changes;
}
} // namespace

TEST_CASE("load governor: punctual sweeps never slow anyone down", "[governor]")
{
    governor g(fast());
    CHECK(sweep(g, 0ms, 60s, 1ms) == 0);
    CHECK(g.slowdown() == 1);
    CHECK_FALSE(g.overloaded());
    CHECK(g.lag() < 2ms);
}

TEST_CASE("load governor: one late sweep is smoothed away", "[governor]")
{
    governor g(fast());
    sweep(g, 0ms, 1s, 0ms);
    // A 60 ms hiccup, then punctual again: 60 ms * (1 - e^-0.1) is 5.7 ms.
    CHECK_FALSE(g.sample(at(1010ms), 60ms));
    CHECK_FALSE(g.overloaded());
    CHECK(g.lag() < 6ms);
    CHECK(sweep(g, 1010ms, 5s, 0ms) == 0);
    CHECK(g.slowdown() == 1);
}

TEST_CASE("load governor: a lasting lag doubles the slowdown once per settle, up to the most", "[governor]")
{
    governor g(fast());
    // The first sample starts the clock for `settle`.
    sweep(g, 0ms, 1s, 0ms);
    // From 1 s every sweep is 50 ms late: the smoothed lag passes 20 ms
    // after about 51 ms (1 - e^-t/100ms = 0.4).
    time_point first_change{};
    CHECK(sweep(g, 1s, 1200ms, 50ms, &first_change) == 1);
    CHECK(first_change == at(1060ms));
    CHECK(g.slowdown() == 2);
    CHECK(g.overloaded());
    // Still late: the next doubling waits out the settle from 1.06 s.
    CHECK(sweep(g, 1200ms, 1550ms, 50ms) == 0);
    CHECK(g.sample(at(1560ms), 50ms));
    CHECK(g.slowdown() == 4);
    // At the most: no further change, however late.
    CHECK(sweep(g, 1560ms, 10s, 500ms) == 0);
    CHECK(g.slowdown() == 4);
}

TEST_CASE("load governor: each calm period takes a fifth off the slowdown, down to 1", "[governor]")
{
    governor g(fast());
    sweep(g, 0ms, 1s, 0ms);
    sweep(g, 1s, 2s, 50ms);
    REQUIRE(g.slowdown() == 4);
    // Lag in between (over a quarter of 20 ms, under 20): no step either way.
    CHECK(sweep(g, 2s, 10s, 10ms) == 0);
    CHECK(g.slowdown() == 4);
    CHECK_FALSE(g.overloaded());
    // Calm from 10 s: the smoothed lag falls under 5 ms 70 ms later
    // (10 ms * e^-0.7 = 4.97 ms), so the first step back comes 2 s after that.
    time_point first{};
    CHECK(sweep(g, 10s, 12100ms, 0ms, &first) == 1);
    CHECK(first == at(12070ms));
    CHECK(g.slowdown() == Approx(3.2));
    // Then one step per calm period: 2.56, 2.048, 1.6384, 1.31072, and the
    // last step, under 1.05, goes to 1.
    std::vector<double> steps;
    for (auto t = 12080ms; t <= 30s; t += 10ms)
        if (g.sample(at(t), 0ms))
            steps.push_back(g.slowdown());
    REQUIRE(steps.size() == 5);
    CHECK(steps[0] == Approx(2.56));
    CHECK(steps[3] == Approx(1.31072));
    CHECK(steps[4] == 1.0);
    CHECK(g.calm_period() == 2s);
}

TEST_CASE("load governor: lag returning during the calm restarts it", "[governor]")
{
    governor g(fast());
    sweep(g, 0ms, 1s, 0ms);
    sweep(g, 1s, 1100ms, 50ms);
    REQUIRE(g.slowdown() == 2);
    sweep(g, 1100ms, 2500ms, 0ms);
    // 1.4 s into the calm the lag comes back above a quarter of the limit.
    sweep(g, 2500ms, 2700ms, 12ms);
    CHECK(sweep(g, 2700ms, 4500ms, 0ms) == 0); // 2 s have passed since 1.1 s, not since the calm's start
    CHECK(g.slowdown() == 2);
    CHECK(sweep(g, 4500ms, 5s, 0ms) == 1);
    CHECK(g.slowdown() == Approx(1.6));
}

TEST_CASE("load governor: a relapse soon after a step back doubles the calm period, up to 8x", "[governor]")
{
    governor g(fast());
    sweep(g, 0ms, 1s, 0ms);
    test_clock::duration t = 1s;
    for (int relapse = 1; relapse <= 5; ++relapse) {
        // Overloaded until the slowdown goes up, then calm until it steps back.
        const double before = g.slowdown();
        for (; g.slowdown() <= before; t += 10ms)
            g.sample(at(t), 60ms);
        const double raised = g.slowdown();
        for (; g.slowdown() >= raised; t += 10ms)
            g.sample(at(t), 0ms);
        // The first relapse comes with the calm period still 2 s.
        CHECK(g.calm_period() == std::min(2s * (1 << (relapse - 1)), 16s));
    }
    CHECK(g.calm_period() == 16s);
}

TEST_CASE("load governor: with sparse sweeps one late sweep is no overload; a run of them is", "[governor]")
{
    governor g(fast()); // limit 20 ms
    // One sweep every 3 s (a few peers at I = 1 s): each sample weighs at
    // most half.
    g.sample(at(3s), 0ms);
    CHECK_FALSE(g.sample(at(6s), 30ms)); // 15 ms
    CHECK_FALSE(g.overloaded());
    CHECK(g.lag() == 15ms);
    CHECK_FALSE(g.sample(at(9s), 0ms));
    CHECK(g.lag() == 7500us);
    CHECK_FALSE(g.sample(at(12s), 30ms)); // 18.75 ms
    CHECK_FALSE(g.overloaded());
    CHECK(g.sample(at(15s), 30ms)); // 24.4 ms: overloaded, and the settle has long passed
    CHECK(g.overloaded());
    CHECK(g.slowdown() == 2);
}

TEST_CASE("load governor: max_slowdown 1 only judges admission", "[governor]")
{
    auto o = fast();
    o.max_slowdown = 1;
    governor g(o);
    CHECK(sweep(g, 0ms, 3s, 80ms) == 0);
    CHECK(g.slowdown() == 1);
    CHECK(g.overloaded());
    sweep(g, 3s, 4s, 0ms);
    CHECK_FALSE(g.overloaded());
}

TEST_CASE("load governor: settings are checked", "[governor]")
{
    auto o = fast();
    o.max_slowdown = 0.5;
    CHECK_THROWS_AS(governor(o), std::invalid_argument);
    o = fast();
    o.step_down = 1;
    CHECK_THROWS_AS(governor(o), std::invalid_argument);
    o = fast();
    o.smoothing = 0ms;
    CHECK_THROWS_AS(governor(o), std::invalid_argument);
    o = fast();
    o.overload_lag = 0ms;
    CHECK_THROWS_AS(governor(o), std::invalid_argument);
}
