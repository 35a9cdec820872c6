// The local-pause guard: a stall of this process must not take every peer
// offline at once.
#include <heartbeat/core/registry.hpp>

#include "event_log.hpp"

#include <heartbeat/testing/manual_clock.hpp>

#include <catch2/catch.hpp>

namespace {
using namespace std::chrono_literals;
using heartbeat::offline_reason;
using test_clock = heartbeat::testing::basic_manual_clock<struct pause_tag>;
using registry = heartbeat::registry<int, test_clock>;
using log_type = heartbeat_test::event_log<registry>;
using time_point = test_clock::time_point;

time_point at(test_clock::duration d) { return time_point(d); }

registry::options opts(test_clock::duration threshold, test_clock::duration grace)
{
    registry::options o;
    o.detection.interval = 100ms;
    o.detection.misses = 3;
    o.pause_threshold = threshold;
    o.pause_grace = grace;
    return o;
}

// Ten peers beating every 100 ms from t = 0 to t = 1 s, with the sweeper
// running on time; peer 9 stops at 500 ms and times out at 801 ms.
void run_healthy_second(registry& reg)
{
    for (int t = 0; t <= 1000; t += 100) {
        for (int k = 0; k < 10; ++k)
            if (k != 9 || t <= 500)
                reg.touch(k, at(t * 1ms));
        reg.expire(at(t * 1ms));
    }
}
} // namespace

TEST_CASE("pause guard: a stall longer than the threshold defers expiry", "[registry][pause]")
{
    log_type log;
    registry reg(opts(500ms, 200ms), log.sink());
    run_healthy_second(reg);
    CHECK(reg.online_count() == 9);
    log.take();

    // The process stalls from 1 s to 5 s: the sweeper, due at 1.3 s, runs
    // 3.7 s late, before the beats waiting in the sockets are read.
    CHECK(reg.expire(at(5s)) == at(5s + 200ms + 1ns));
    CHECK(log.events.empty());
    CHECK(reg.online_count() == 9);
    CHECK(reg.pause_deferrals() == 9);

    // The beats are read; peer 3 has really died meanwhile.
    for (int k = 0; k < 9; ++k)
        if (k != 3)
            reg.touch(k, at(5s + 1ms));
    CHECK(reg.expire(at(5s + 200ms)) == at(5s + 200ms + 1ns));  // on time: no stall
    CHECK(log.events.empty());
    reg.expire(at(5s + 200ms + 1ns));
    CHECK(log.take() == std::vector{log_type::offline(3, offline_reason::timeout, at(5s + 200ms + 1ns))});
    CHECK(reg.online_count() == 8);
}

TEST_CASE("pause guard: lateness up to the threshold is not a stall", "[registry][pause]")
{
    log_type log;
    registry reg(opts(500ms, 200ms), log.sink());
    run_healthy_second(reg);
    log.take();

    // Due at 1.3 s + 1 ns; exactly 500 ms late is still punctual.
    reg.expire(at(1800ms + 1ns));
    CHECK(log.events.size() == 9);
    CHECK(reg.pause_deferrals() == 0);
}

TEST_CASE("pause guard: one tick past the threshold is a stall", "[registry][pause]")
{
    registry reg(opts(500ms, 200ms));
    run_healthy_second(reg);
    reg.expire(at(1800ms + 2ns));
    CHECK(reg.online_count() == 9);
    CHECK(reg.pause_deferrals() == 9);
}

TEST_CASE("pause guard: a zero threshold disables it", "[registry][pause]")
{
    log_type log;
    registry reg(opts(0ms, 200ms), log.sink());
    run_healthy_second(reg);
    log.take();
    reg.expire(at(5s));
    CHECK(log.events.size() == 9);
    CHECK(reg.online_count() == 0);
}

TEST_CASE("pause guard: peers not yet due are left alone", "[registry][pause]")
{
    log_type log;
    registry reg(opts(500ms, 200ms), log.sink());
    reg.touch(1, at(0ms));
    reg.set_interval(1, 10s);  // due at 30 s
    reg.touch(2, at(0ms));     // due at 300 ms
    reg.expire(at(5s));        // 4.7 s late: a stall
    CHECK(reg.next_deadline() == at(5s + 200ms + 1ns));
    reg.expire(at(5s + 200ms + 1ns));
    CHECK(reg.status(2) == heartbeat::peer_status::offline);
    CHECK(reg.next_deadline() == at(30s + 1ns));
}

TEST_CASE("pause guard: a genuinely dead peer still goes offline after the grace", "[registry][pause]")
{
    log_type log;
    registry reg(opts(500ms, 200ms), log.sink());
    reg.touch(1, at(0ms));
    log.take();
    reg.expire(at(10s));  // stalled: deferred to 10.2 s
    CHECK(log.events.empty());
    reg.expire(at(10s + 250ms));  // 50 ms late: punctual, so it expires
    CHECK(log.take() == std::vector{log_type::offline(1, offline_reason::timeout, at(10s + 250ms))});
}

namespace {
registry::options lag_opts(test_clock::duration lag_threshold)
{
    registry::options o = opts(1s, 1s);
    o.lag_threshold = lag_threshold;
    return o;
}
} // namespace

TEST_CASE("lag guard: a sweep later than the lag threshold gives the due peers its lateness again, once",
          "[registry][pause][lag]")
{
    log_type log;
    registry reg(lag_opts(10ms), log.sink());
    reg.touch(1, at(0ms));
    reg.touch(2, at(0ms));
    log.take();

    // Both are due at 300 ms + 1 ns; the sweep runs 40 ms late.
    CHECK(reg.expire(at(340ms + 1ns)) == at(380ms + 2ns));
    CHECK(log.events.empty());
    CHECK(reg.last_lateness() == 40ms);
    CHECK(reg.pause_deferrals() == 2);

    // Peer 1's beat was waiting unread; peer 2 is really silent.
    reg.touch(1, at(345ms));
    reg.expire(at(380ms + 1ns));
    CHECK(log.events.empty());
    // Late again at the end of the deferral: peer 2 is not deferred twice.
    reg.expire(at(420ms));
    CHECK(log.take() == std::vector{log_type::offline(2, offline_reason::timeout, at(420ms))});
    CHECK(reg.pause_deferrals() == 2);
    CHECK(reg.is_online(1));
    // Peer 1 falls due 300 ms after its last beat; a punctual sweep then.
    reg.expire(at(645ms + 1ns));
    CHECK(log.take() == std::vector{log_type::offline(1, offline_reason::timeout, at(645ms + 1ns))});
    CHECK(reg.last_lateness() == 0ms);
}

TEST_CASE("lag guard: lateness up to the lag threshold defers nothing; the grace caps the deferral",
          "[registry][pause][lag]")
{
    log_type log;
    auto o = lag_opts(10ms);
    o.pause_grace = 25ms;
    registry reg(o, log.sink());
    reg.touch(1, at(0ms));
    reg.touch(2, at(50ms));
    log.take();

    reg.expire(at(310ms + 1ns)); // exactly 10 ms late: punctual
    CHECK(log.take() == std::vector{log_type::offline(1, offline_reason::timeout, at(310ms + 1ns))});
    CHECK(reg.last_lateness() == 10ms);
    CHECK(reg.pause_deferrals() == 0);

    // Peer 2, due at 350 ms + 1 ns, swept 600 ms late (short of the 1 s
    // pause): deferred by the grace, 25 ms, not by the lateness.
    CHECK(reg.expire(at(950ms + 1ns)) == at(975ms + 2ns));
    CHECK(log.events.empty());
}

TEST_CASE("lag guard: off by default in the registry", "[registry][pause][lag]")
{
    log_type log;
    registry reg(opts(1s, 1s), log.sink());
    reg.touch(1, at(0ms));
    log.take();
    reg.expire(at(500ms));
    CHECK(log.take() == std::vector{log_type::offline(1, offline_reason::timeout, at(500ms))});
    CHECK(reg.last_lateness() == 200ms - 1ns);
}
