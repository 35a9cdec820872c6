#include <heartbeat/sweeper.hpp>

#include "event_log.hpp"

#include <heartbeat/core/registry.hpp>
#include <heartbeat/testing/manual_clock.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

namespace {
using namespace std::chrono_literals;
using heartbeat::offline_reason;
using test_clock = heartbeat::testing::basic_manual_clock<struct sweeper_tag>;
using registry = heartbeat::registry<int, test_clock>;
using log_type = heartbeat_test::event_log<registry>;

// Asio sleeps for to_wait_duration() of real time between checks of the
// test_clock; on manual time it should only look, never sleep.
struct poll_wait_traits {
    static test_clock::duration to_wait_duration(const test_clock::duration&) { return test_clock::duration(0); }
    static test_clock::duration to_wait_duration(const test_clock::time_point&) { return test_clock::duration(0); }
};

using executor = heartbeat::net::io_context::executor_type;
using sweeper = heartbeat::sweeper<registry, executor, poll_wait_traits>;

// Runs what is ready. A due timer is noticed by the reactor's next look at
// its timer fd, so look a bounded number of times until `done` holds.
template <class Pred>
bool run_until(heartbeat::net::io_context& io, Pred done)
{
    for (int i = 0; i < 1000 && !done(); ++i) {
        io.restart();
        io.poll();
        if (!done())
            std::this_thread::yield();
    }
    return done();
}

void run_ready(heartbeat::net::io_context& io)
{
    for (int i = 0; i < 20; ++i) {
        io.restart();
        io.poll();
    }
}

registry::options opts()
{
    registry::options o;
    o.detection.interval = 100ms;
    o.detection.misses = 3;
    return o;
}
} // namespace

TEST_CASE("sweeper sleeps until the registry's next deadline", "[sweeper]")
{
    test_clock::reset();
    heartbeat::net::io_context io;
    log_type log;
    registry reg(opts(), log.sink());
    sweeper sw(io.get_executor(), reg);

    sw.start();
    CHECK_FALSE(sw.armed_at());  // nobody online: no wake-ups at all

    reg.touch(1, test_clock::now());
    sw.rearm();
    REQUIRE(sw.armed_at() == test_clock::time_point(300ms + 1ns));
    log.take();

    test_clock::advance(300ms);  // exactly N * I of silence: still online
    run_ready(io);
    CHECK(log.events.empty());
    CHECK(reg.is_online(1));

    test_clock::advance(1ns);
    REQUIRE(run_until(io, [&] { return !log.events.empty(); }));
    CHECK(log.take() == std::vector{log_type::offline(1, offline_reason::timeout, test_clock::time_point(300ms + 1ns))});
    CHECK_FALSE(sw.armed_at());
}

TEST_CASE("sweeper re-arms earlier for a new peer and follows beats", "[sweeper]")
{
    test_clock::reset();
    heartbeat::net::io_context io;
    log_type log;
    auto o = opts();
    o.detection.max_interval = 10s;
    registry reg(o, log.sink());
    sweeper sw(io, reg);
    sw.start();

    reg.touch(1, test_clock::now());
    reg.set_interval(1, 1s);
    sw.rearm();
    CHECK(sw.armed_at() == test_clock::time_point(3s + 1ns));
    reg.touch(2, test_clock::now());
    sw.rearm();
    CHECK(sw.armed_at() == test_clock::time_point(300ms + 1ns));

    // Peer 2 keeps beating; at each wake-up the sweeper finds it alive.
    for (int i = 0; i < 10; ++i) {
        test_clock::advance(200ms);
        reg.touch(2, test_clock::now());
        run_ready(io);
    }
    CHECK(log.take() == std::vector{log_type::online(1, test_clock::time_point(0ms)),
                                    log_type::online(2, test_clock::time_point(0ms))});
    // It is now 2 s. Both fall silent; at 3.001 s peer 2 (due at 2.3 s)
    // and peer 1 (due at 3 s) are offline, in deadline order.
    test_clock::advance(1001ms);
    REQUIRE(run_until(io, [&] { return log.events.size() == 2; }));
    const auto t = test_clock::time_point(3001ms);
    CHECK(log.take() == std::vector{log_type::offline(2, offline_reason::timeout, t),
                                    log_type::offline(1, offline_reason::timeout, t)});
}

TEST_CASE("sweeper: stop and destruction cancel cleanly", "[sweeper]")
{
    test_clock::reset();
    heartbeat::net::io_context io;
    log_type log;
    registry reg(opts(), log.sink());
    reg.touch(1, test_clock::now());

    SECTION("stopped: no expiry happens")
    {
        sweeper sw(io, reg);
        sw.start();
        sw.stop();
        test_clock::advance(1s);
        run_ready(io);
        CHECK(reg.is_online(1));
        CHECK_FALSE(sw.running());
    }
    SECTION("destroyed with a wait pending: the handler finds it stopped")
    {
        {
            sweeper sw(io, reg);
            sw.start();
        }
        test_clock::advance(1s);
        run_ready(io);
        CHECK(reg.is_online(1));
    }
}
