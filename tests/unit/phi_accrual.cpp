#include <heartbeat/core/phi_accrual.hpp>

#include "event_log.hpp"

#include <heartbeat/core/registry.hpp>
#include <heartbeat/testing/manual_clock.hpp>

#include <catch2/catch.hpp>

#include <random>

namespace {
using namespace std::chrono_literals;
using test_clock = heartbeat::testing::basic_manual_clock<struct phi_tag>;
using policy = heartbeat::phi_accrual<test_clock>;
using time_point = test_clock::time_point;
using registry = heartbeat::registry<int, test_clock, policy>;
using log_type = heartbeat_test::event_log<registry>;

time_point at(test_clock::duration d) { return time_point(d); }

// A state whose window holds exactly the given inter-arrival times.
policy::peer_state learned(const policy& p, std::initializer_list<test_clock::duration> gaps)
{
    auto s = p.initial_state();
    p.on_online(s, at(0ms));
    // Replace the bootstrap samples: fill a full window with the gaps, cycled.
    const auto& o = p.get_options();
    time_point t = at(0ms);
    for (std::size_t i = 0; i < o.window; ++i) {
        const auto gap = *(gaps.begin() + static_cast<std::ptrdiff_t>(i % gaps.size()));
        p.on_beat(s, t, t + gap);
        t += gap;
    }
    return s;
}

policy::options small_window()
{
    policy::options o;
    o.window = 10;
    o.min_std_dev = 100ms;
    return o;
}
} // namespace

TEST_CASE("phi: values against hand-computed ones", "[phi]")
{
    const policy p(small_window());
    const auto s = learned(p, {1000ms});  // mean 1000 ms, stddev 0 -> floor 100 ms
    CHECK(p.mean_us(s) == Approx(1'000'000));
    CHECK(p.std_dev_us(s) == Approx(100'000));
    // phi = -log10(e / (1 + e)), e = exp(-y (1.5976 + 0.070566 y^2)),
    // y = (t - mean) / sd; worked out by hand for these points:
    CHECK(p.phi(s, at(0ms), at(1000ms)) == Approx(0.3010299956639812));  // log10(2) at the mean
    CHECK(p.phi(s, at(0ms), at(1100ms)) == Approx(0.7995083208395598));
    CHECK(p.phi(s, at(0ms), at(1200ms)) == Approx(1.6428278854871123));
    CHECK(p.phi(s, at(0ms), at(1500ms)) == Approx(7.299947394460206));
    CHECK(p.phi(s, at(0ms), at(800ms)) == Approx(0.009998761629963108));
}

TEST_CASE("phi: offline_at is where phi reaches the threshold", "[phi]")
{
    for (double threshold : {1.0, 3.0, 8.0, 12.0}) {
        auto o = small_window();
        o.threshold = threshold;
        const policy p(o);
        const auto s = learned(p, {900ms, 1100ms, 1000ms, 950ms, 1050ms});
        const auto when = p.offline_at(s, at(10s));
        CAPTURE(threshold);
        CHECK(p.phi(s, at(10s), when) >= threshold);
        CHECK(p.phi(s, at(10s), when - 1ms) < threshold);
    }
}

TEST_CASE("phi: acceptable pause shifts the curve", "[phi]")
{
    auto o = small_window();
    const policy plain(o);
    o.acceptable_pause = 500ms;
    const policy patient(o);
    const auto s1 = learned(plain, {1000ms});
    const auto s2 = learned(patient, {1000ms});
    CHECK(patient.offline_at(s2, at(0ms)) - plain.offline_at(s1, at(0ms)) == 500ms);
    CHECK(patient.phi(s2, at(0ms), at(1500ms)) == Approx(plain.phi(s1, at(0ms), at(1000ms))));
}

TEST_CASE("phi: jitter stretches detection time smoothly", "[phi]")
{
    const policy p(small_window());
    test_clock::duration previous = 0ms;
    for (int spread_ms : {0, 50, 100, 200, 300, 400}) {
        const auto d = std::chrono::milliseconds(spread_ms);
        const auto s = learned(p, {1000ms - d, 1000ms + d});
        const auto detect = p.offline_at(s, at(0ms)) - at(0ms);
        CAPTURE(spread_ms);
        CHECK(detect >= previous);  // more jitter, more patience
        // ... and no jump: 100 ms more spread costs at most ~1 s more wait.
        if (previous > 0ms)
            CHECK(detect - previous <= 1100ms);
        previous = detect;
    }
}

TEST_CASE("phi: memory per peer is fixed by the window", "[phi]")
{
    auto o = small_window();
    o.window = 64;
    const policy p(o);
    auto s = p.initial_state();
    p.on_online(s, at(0ms));
    time_point t = at(0ms);
    for (int i = 0; i < 10'000; ++i) {
        p.on_beat(s, t, t + 1s);
        t += 1s;
    }
    CHECK(s.count == 64);
    CHECK(s.samples.size() == 64);
    CHECK(s.samples.capacity() == 64);
    CHECK(p.mean_us(s) == Approx(1'000'000));
}

TEST_CASE("phi in the registry: steady beats never cross the threshold", "[phi]")
{
    registry::options o;
    o.detection.interval = 1s;
    o.detection.window = 200;
    o.pause_threshold = 0s;
    log_type log;
    registry reg(o, log.sink());
    std::mt19937 rng(42);
    std::normal_distribution<double> jitter(0, 20);  // +-20 ms around 1 s
    time_point t = at(0ms);
    for (int i = 0; i < 5000; ++i) {
        reg.touch(1, t);
        t += 1000ms + std::chrono::milliseconds(static_cast<int>(jitter(rng)));
        reg.expire(t - 1ms);  // the sweep runs just before each beat lands
    }
    CHECK(log.events.size() == 1);  // only the first online
    CHECK(reg.is_online(1));
    const auto phi = reg.suspicion(1, t - 1ms);
    REQUIRE(phi);
    CHECK(*phi < 8);
}

TEST_CASE("phi in the registry: after a stop, offline comes at the predicted time", "[phi]")
{
    registry::options o;
    o.detection.interval = 500ms;
    o.detection.window = 50;
    o.detection.min_std_dev = 20ms;
    o.pause_threshold = 0s;
    log_type log;
    registry reg(o, log.sink());
    time_point t = at(0ms);
    for (int i = 0; i < 100; ++i) {
        reg.touch(7, t);
        t += (i % 2) ? 480ms : 520ms;
    }
    const time_point last = t - ((99 % 2) ? 480ms : 520ms);
    // Mean 500 ms, stddev 20 ms: phi = 8 at y ~ 5.05, about 601 ms.
    const auto predicted = reg.next_deadline();
    REQUIRE(predicted);
    CHECK(*predicted - last > 590ms);
    CHECK(*predicted - last < 615ms);
    CHECK(reg.expire(*predicted - 1ns) == predicted);
    CHECK(reg.is_online(7));
    reg.expire(*predicted);
    CHECK_FALSE(reg.is_online(7));
    CHECK(log.events.back() == log_type::offline(7, heartbeat::offline_reason::timeout, *predicted));
    CHECK_FALSE(reg.suspicion(7, *predicted));  // offline: no suspicion level
}

TEST_CASE("phi in the registry: a deadline that moves earlier is honoured", "[phi]")
{
    // A peer first learned as slow and erratic, then steady and fast: its
    // deadline comes much earlier than the one armed before.
    registry::options o;
    o.detection.interval = 2s;
    o.detection.window = 4;
    o.detection.min_std_dev = 10ms;
    o.pause_threshold = 0s;
    registry reg(o);
    time_point t = at(0ms);
    reg.touch(1, t);
    for (auto gap : {3000ms, 500ms, 2500ms, 100ms, 100ms, 100ms, 100ms, 100ms}) {
        t += gap;
        reg.touch(1, t);
    }
    const auto next = reg.next_deadline();
    REQUIRE(next);
    CHECK(*next - t < 200ms);
    reg.expire(*next);
    CHECK_FALSE(reg.is_online(1));
}

TEST_CASE("phi: nonsense options are refused", "[phi]")
{
    policy::options o;
    o.threshold = 0;
    CHECK_THROWS_AS(policy(o), std::invalid_argument);
    o = {};
    o.window = 1;
    CHECK_THROWS_AS(policy(o), std::invalid_argument);
    o = {};
    o.min_std_dev = 0ms;
    CHECK_THROWS_AS(policy(o), std::invalid_argument);
}

TEST_CASE("phi: the first-heartbeat estimate seeds a new peer", "[phi]")
{
    auto o = small_window();
    o.interval = 1s;
    o.first_heartbeat_estimate = 3s;
    const policy p(o);
    auto s = p.initial_state();
    p.on_online(s, at(0ms));
    CHECK(p.mean_us(s) == Approx(3'000'000));
    o.first_heartbeat_estimate = 0s;  // follow the interval instead
    const policy q(o);
    auto t = q.initial_state();
    q.set_interval(t, 400ms);
    q.on_online(t, at(0ms));
    CHECK(q.mean_us(t) == Approx(400'000));
    CHECK(q.std_dev_us(t) == Approx(100'000));  // a quarter of 400 ms
}
