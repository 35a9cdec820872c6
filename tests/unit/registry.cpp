#include <heartbeat/core/registry.hpp>
#include <heartbeat/detail/live_registry.hpp>

#include "allocation_counter.hpp"
#include "event_log.hpp"

#include <heartbeat/testing/manual_clock.hpp>

#include <catch2/catch.hpp>

#include <string>

namespace {
using namespace std::chrono_literals;
using heartbeat::offline_reason;
using heartbeat::peer_status;
using test_clock = heartbeat::testing::basic_manual_clock<struct registry_tag>;
using registry = heartbeat::registry<int, test_clock>;
using log_type = heartbeat_test::event_log<registry>;
using time_point = test_clock::time_point;

time_point at(test_clock::duration d) { return time_point(d); }

registry::options opts(test_clock::duration interval = 100ms, unsigned misses = 3)
{
    registry::options o;
    o.detection.interval = interval;
    o.detection.misses = misses;
    return o;
}
} // namespace

TEST_CASE("registry: the first touch raises online, later ones do not", "[registry]")
{
    log_type log;
    registry reg(opts(), log.sink());

    reg.touch(1, at(0ms));
    reg.touch(1, at(10ms));
    reg.touch(1, at(20ms));
    CHECK(log.take() == std::vector{log_type::online(1, at(0ms))});
    CHECK(reg.is_online(1));
    CHECK(reg.last_seen(1) == at(20ms));
    CHECK(reg.size() == 1);
    CHECK(reg.online_count() == 1);
    CHECK(reg.info(1)->beats == 3);
}

TEST_CASE("registry: online at exactly N * I of silence, offline one tick later", "[registry]")
{
    log_type log;
    registry reg(opts(100ms, 3), log.sink());
    reg.touch(7, at(1s));
    log.take();

    // expire() says exactly when it next has work: the first offline instant.
    CHECK(reg.next_deadline() == at(1s + 300ms + 1ns));
    CHECK(reg.expire(at(1s + 300ms)) == at(1s + 300ms + 1ns));
    CHECK(reg.is_online(7));
    CHECK(log.events.empty());

    CHECK(reg.expire(at(1s + 300ms + 1ns)) == std::nullopt);
    CHECK(log.take() == std::vector{log_type::offline(7, offline_reason::timeout, at(1s + 300ms + 1ns))});
    CHECK(reg.status(7) == peer_status::offline);
    CHECK(reg.size() == 1);  // the record stays until removed
    CHECK(reg.online_count() == 0);
    CHECK(reg.offline_count() == 1);
    CHECK(reg.last_seen(7) == at(1s));
}

TEST_CASE("registry: grace extends the deadline", "[registry]")
{
    auto o = opts(100ms, 2);
    o.detection.grace = 15ms;
    registry reg(o);
    reg.touch(1, at(0ms));
    CHECK(reg.next_deadline() == at(215ms + 1ns));
}

TEST_CASE("registry: each touch pushes the deadline back", "[registry]")
{
    log_type log;
    registry reg(opts(100ms, 3), log.sink());
    for (int t = 0; t <= 1000; t += 250) {
        reg.touch(1, at(t * 1ms));
        reg.expire(at(t * 1ms));
    }
    CHECK(reg.expire(at(1300ms)) == at(1300ms + 1ns));
    CHECK(log.take() == std::vector{log_type::online(1, at(0ms))});
    reg.expire(at(1301ms));
    CHECK(log.take() == std::vector{log_type::offline(1, offline_reason::timeout, at(1301ms))});
}

TEST_CASE("registry: a now earlier than the last sign of life does not move it back", "[registry]")
{
    registry reg(opts());
    reg.touch(1, at(500ms));
    reg.touch(1, at(400ms));
    CHECK(reg.last_seen(1) == at(500ms));
    CHECK(reg.next_deadline() == at(800ms + 1ns));
}

TEST_CASE("registry: per-peer intervals, clamped to the policy's bounds", "[registry]")
{
    auto o = opts(100ms, 3);
    o.detection.min_interval = 20ms;
    o.detection.max_interval = 1s;
    log_type log;
    registry reg(o, log.sink());

    CHECK(reg.set_interval(1, 50ms) == std::nullopt);  // unknown peer
    reg.touch(1, at(0ms));
    reg.touch(2, at(0ms));
    reg.touch(3, at(0ms));
    CHECK(reg.set_interval(1, 1ms) == 20ms);
    CHECK(reg.set_interval(2, 10s) == 1s);
    CHECK(reg.info(1)->interval == 20ms);
    CHECK(reg.info(3)->interval == 100ms);
    log.take();

    // Peer 1 now times out after 60 ms, peer 3 after 300 ms, peer 2 after 3 s.
    CHECK(reg.next_deadline() == at(60ms + 1ns));
    CHECK(reg.expire(at(61ms)) == at(300ms + 1ns));
    CHECK(reg.expire(at(301ms)) == at(3s + 1ns));
    CHECK(reg.expire(at(3001ms)) == std::nullopt);
    CHECK(log.take() == std::vector{log_type::offline(1, offline_reason::timeout, at(61ms)),
                                    log_type::offline(3, offline_reason::timeout, at(301ms)),
                                    log_type::offline(2, offline_reason::timeout, at(3001ms))});

    // The interval is kept while the record is, across offline and online.
    reg.touch(1, at(4s));
    CHECK(reg.next_deadline() == at(4s + 60ms + 1ns));
}

TEST_CASE("registry: growing an interval delays, shrinking advances the deadline", "[registry]")
{
    log_type log;
    registry reg(opts(100ms, 3), log.sink());
    reg.touch(1, at(0ms));
    reg.set_interval(1, 200ms);
    CHECK(reg.expire(at(301ms)) == at(600ms + 1ns));
    reg.set_interval(1, 50ms);
    CHECK(reg.next_deadline() == at(150ms + 1ns));
    reg.expire(at(400ms));
    CHECK(log.take() == std::vector{log_type::online(1, at(0ms)),
                                    log_type::offline(1, offline_reason::timeout, at(400ms))});
}

TEST_CASE("registry: a peer comes back online after a timeout", "[registry]")
{
    log_type log;
    registry reg(opts(100ms, 1), log.sink());
    for (int round = 0; round < 3; ++round) {
        const auto base = at(round * 1s);
        reg.touch(5, base);
        reg.touch(5, base + 50ms);
        reg.expire(base + 151ms);
    }
    const auto info = reg.info(5);
    REQUIRE(info);
    CHECK(info->beats == 6);
    CHECK(info->offline_episodes == 3);
    CHECK(log.take() == std::vector{
        log_type::online(5, at(0s)), log_type::offline(5, offline_reason::timeout, at(151ms)),
        log_type::online(5, at(1s)), log_type::offline(5, offline_reason::timeout, at(1151ms)),
        log_type::online(5, at(2s)), log_type::offline(5, offline_reason::timeout, at(2151ms))});
}

TEST_CASE("registry: remove versus timeout", "[registry]")
{
    log_type log;
    registry reg(opts(100ms, 3), log.sink());
    reg.touch(1, at(0ms));
    reg.touch(2, at(0ms));
    log.take();

    SECTION("removing an online peer raises offline with the reason and forgets it")
    {
        CHECK(reg.remove(1, offline_reason::left, at(10ms)));
        CHECK(log.take() == std::vector{log_type::offline(1, offline_reason::left, at(10ms))});
        CHECK(reg.status(1) == peer_status::unknown);
        CHECK(reg.size() == 1);
        CHECK(reg.online_count() == 1);
        // Its pending deadline is gone with it.
        reg.expire(at(1s));
        CHECK(log.take() == std::vector{log_type::offline(2, offline_reason::timeout, at(1s))});
    }
    SECTION("removing a timed-out peer raises nothing more")
    {
        reg.expire(at(301ms));
        log.take();
        CHECK(reg.remove(1, offline_reason::disconnected));
        CHECK(log.events.empty());
        CHECK(reg.status(1) == peer_status::unknown);
    }
    SECTION("removing an unknown peer is a no-op")
    {
        CHECK_FALSE(reg.remove(99));
        CHECK(log.events.empty());
    }
    SECTION("a removed peer starts afresh")
    {
        reg.remove(1, offline_reason::disconnected, at(40ms));
        reg.touch(1, at(50ms));
        CHECK(reg.info(1)->beats == 1);
        CHECK(reg.info(1)->offline_episodes == 0);
        CHECK(log.take() == std::vector{log_type::offline(1, offline_reason::disconnected, at(40ms)),
                                        log_type::online(1, at(50ms))});
    }
}

TEST_CASE("registry: clear takes everyone offline with one reason", "[registry]")
{
    log_type log;
    registry reg(opts(), log.sink());
    reg.touch(1, at(0ms));
    reg.touch(2, at(0ms));
    reg.touch(3, at(0ms));
    reg.expire(at(1s));  // all three time out
    reg.touch(2, at(1s));
    log.take();
    reg.clear(offline_reason::shutdown, at(2s));
    CHECK(log.take() == std::vector{log_type::offline(2, offline_reason::shutdown, at(2s))});
    CHECK(reg.empty());
    CHECK(reg.next_deadline() == std::nullopt);
}

TEST_CASE("registry: simultaneous expiries come in deadline order, ties in touch order", "[registry]")
{
    log_type log;
    registry reg(opts(100ms, 1), log.sink());
    reg.touch(30, at(20ms));
    reg.touch(10, at(0ms));
    reg.touch(20, at(0ms));
    reg.touch(40, at(20ms));
    reg.touch(10, at(0ms));  // touched again: now after 20 in the tie
    log.take();
    reg.expire(at(1s));
    CHECK(log.take() == std::vector{log_type::offline(20, offline_reason::timeout, at(1s)),
                                    log_type::offline(10, offline_reason::timeout, at(1s)),
                                    log_type::offline(30, offline_reason::timeout, at(1s)),
                                    log_type::offline(40, offline_reason::timeout, at(1s))});
}

TEST_CASE("registry: handles", "[registry]")
{
    registry reg(opts());
    const auto h = reg.touch(1, at(0ms));
    REQUIRE(h.valid());
    CHECK(reg.find(1) == h);
    CHECK_FALSE(reg.find(2).valid());
    CHECK(reg.touch(h, at(50ms)));
    CHECK(reg.last_seen(1) == at(50ms));
    CHECK(reg.set_interval(h, 200ms) == 200ms);

    reg.remove(h);
    CHECK_FALSE(reg.touch(h, at(60ms)));
    CHECK_FALSE(reg.remove(h));
    CHECK_FALSE(reg.info(h));

    // The slot is reused by the next new key; the old handle stays dead.
    const auto h2 = reg.touch(2, at(70ms));
    CHECK(h2.index == h.index);
    CHECK(h2 != h);
    CHECK_FALSE(reg.touch(h, at(80ms)));
    CHECK(reg.last_seen(2) == at(70ms));
}

TEST_CASE("registry: a touch of a known peer allocates nothing", "[registry]")
{
    registry reg(opts());
    for (int k = 0; k < 1000; ++k)
        reg.touch(k, at(0ms));
    const auto h = reg.find(500);
    reg.expire(at(0ms));

    const long before = heartbeat_test::allocations_on_this_thread();
    for (int round = 1; round <= 10; ++round)
        for (int k = 0; k < 1000; ++k)
            reg.touch(k, at(round * 10ms));
    for (int round = 11; round <= 20; ++round)
        reg.touch(h, at(round * 10ms));
    CHECK(heartbeat_test::allocations_on_this_thread() == before);
}

TEST_CASE("registry: max_peers refuses new keys, not known ones", "[registry]")
{
    auto o = opts();
    o.max_peers = 2;
    registry reg(o);
    CHECK(reg.touch(1, at(0ms)).valid());
    CHECK(reg.touch(2, at(0ms)).valid());
    CHECK_FALSE(reg.touch(3, at(0ms)).valid());
    CHECK(reg.status(3) == peer_status::unknown);
    CHECK(reg.touch(1, at(10ms)).valid());
    reg.remove(2);
    CHECK(reg.touch(3, at(20ms)).valid());
}

TEST_CASE("registry: snapshot and for_each report every record", "[registry]")
{
    registry reg(opts(100ms, 1));
    reg.touch(1, at(0ms));
    reg.touch(2, at(0ms));
    reg.touch(3, at(150ms));
    reg.expire(at(150ms));  // 1 and 2 time out
    reg.touch(2, at(160ms));
    auto snap = reg.snapshot();
    std::sort(snap.begin(), snap.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
    REQUIRE(snap.size() == 3);
    CHECK(snap[0].status == peer_status::offline);
    CHECK(snap[0].offline_episodes == 1);
    CHECK(snap[1].status == peer_status::online);
    CHECK(snap[1].last_seen == at(160ms));
    CHECK(snap[1].beats == 2);
    CHECK(snap[2].status == peer_status::online);
    std::size_t online = 0;
    reg.for_each([&](const registry::peer_info& p) { online += p.status == peer_status::online; });
    CHECK(online == reg.online_count());
}

TEST_CASE("registry: callbacks may call back into the registry", "[registry]")
{
    using sreg = heartbeat::registry<std::string, test_clock>;
    using slog = heartbeat_test::event_log<sreg>;
    slog log;
    sreg::options o;
    o.detection.interval = 100ms;
    o.detection.misses = 1;
    sreg reg(o);
    std::string last_key_seen;
    reg.on_event([&](const sreg::event_type& e) {
        log.events.push_back({e.key, e.kind, e.reason, e.at});
        if (e.kind == heartbeat::transition::offline && e.key == "flaky-peer-with-a-long-name") {
            // Removing the very peer being reported: the key must stay valid.
            reg.remove(e.key, offline_reason::disconnected, e.at);
            last_key_seen = e.key;
            // A nested expire does nothing but report the next deadline.
            CHECK(reg.expire(e.at + 1h).has_value());
            // New peers may reallocate the tables mid-sweep.
            for (int i = 0; i < 100; ++i)
                reg.touch("newcomer-" + std::to_string(i), e.at);
        }
        if (e.kind == heartbeat::transition::offline && e.key == "comes-straight-back")
            reg.touch(e.key, e.at);
        if (e.kind == heartbeat::transition::online && e.key == "unwelcome")
            reg.remove(e.key, offline_reason::protocol_error, e.at);
    });

    reg.touch("flaky-peer-with-a-long-name", at(0ms));
    reg.touch("comes-straight-back", at(0ms));
    reg.touch("steady", at(0ms));
    reg.touch("steady", at(100ms));
    const auto h = reg.touch("unwelcome", at(100ms));
    CHECK_FALSE(reg.touch(h, at(100ms)));  // removed by its own online event
    log.take();

    const auto next = reg.expire(at(101ms));
    CHECK(last_key_seen == "flaky-peer-with-a-long-name");
    const auto events = log.take();
    REQUIRE(events.size() == 103);
    CHECK(events[0] == slog::offline("flaky-peer-with-a-long-name", offline_reason::timeout, at(101ms)));
    CHECK(events[1] == slog::online("newcomer-0", at(101ms)));
    CHECK(events[101] == slog::offline("comes-straight-back", offline_reason::timeout, at(101ms)));
    CHECK(events[102] == slog::online("comes-straight-back", at(101ms)));
    CHECK(reg.status("flaky-peer-with-a-long-name") == peer_status::unknown);
    CHECK(reg.is_online("comes-straight-back"));
    CHECK(reg.is_online("steady"));
    CHECK(reg.online_count() == 102);
    CHECK(next == at(200ms + 1ns));  // "steady", last seen at 100 ms
}

namespace {
struct endpoint_id {
    std::string host;
    unsigned short port;
    friend bool operator==(const endpoint_id& a, const endpoint_id& b)
    {
        return a.host == b.host && a.port == b.port;
    }
};
struct endpoint_hash {
    std::size_t operator()(const endpoint_id& e) const noexcept
    {
        return std::hash<std::string>{}(e.host) * 31u + e.port;
    }
};
} // namespace

TEST_CASE("registry: any hashable key", "[registry]")
{
    heartbeat::registry<endpoint_id, test_clock, heartbeat::fixed_misses<test_clock>, endpoint_hash> reg;
    reg.touch({"10.0.0.1", 80}, at(0ms));
    reg.touch({"10.0.0.1", 81}, at(0ms));
    reg.touch({"10.0.0.1", 80}, at(1ms));
    CHECK(reg.size() == 2);
    CHECK(reg.last_seen({"10.0.0.1", 80}) == at(1ms));

    heartbeat::registry<std::uint64_t, test_clock> by_number;
    by_number.touch(0xffff'ffff'ffffULL, at(0ms));
    CHECK(by_number.is_online(0xffff'ffff'ffffULL));
}

TEST_CASE("registry: steady_clock is the default and touch(key) reads it", "[registry]")
{
    heartbeat::registry<int> reg;
    static_assert(std::is_same_v<decltype(reg)::clock_type, std::chrono::steady_clock>);
    const auto before = std::chrono::steady_clock::now();
    reg.touch(1);
    CHECK(*reg.last_seen(1) >= before);
    CHECK(reg.touch(reg.find(1)));
}

TEST_CASE("registry: the deadline heap is rebuilt once dead entries reach the online peers plus compaction_slack",
          "[registry]")
{
    auto fill = [](registry& reg) {
        for (int k = 0; k < 100; ++k)
            reg.touch(k, at(0ms));
        REQUIRE(reg.deadline_entries() == 100);
    };
    SECTION("slack 10: the 55th removal leaves 45 dead against 45 online + 10, and rebuilds")
    {
        auto o = opts();
        o.compaction_slack = 10;
        registry reg(o);
        fill(reg);
        for (int k = 0; k < 54; ++k)
            reg.remove(k, offline_reason::left, at(1ms));
        CHECK(reg.deadline_entries() == 100); // 54 dead < 46 online + 10
        reg.remove(54, offline_reason::left, at(1ms));
        CHECK(reg.deadline_entries() == 45);  // only the live ones
        CHECK(reg.online_count() == 45);
        // The rebuilt heap still expires everyone, in order.
        CHECK(reg.expire(at(1s)) == std::nullopt);
        CHECK(reg.online_count() == 0);
    }
    SECTION("slack 0: rebuilt as soon as the dead equal the live")
    {
        auto o = opts();
        o.compaction_slack = 0;
        registry reg(o);
        fill(reg);
        for (int k = 0; k < 49; ++k)
            reg.remove(k, offline_reason::left, at(1ms));
        CHECK(reg.deadline_entries() == 100);
        reg.remove(49, offline_reason::left, at(1ms));
        CHECK(reg.deadline_entries() == 50);
    }
    SECTION("the default slack (1024) leaves a small heap alone; expiry drops the dead")
    {
        registry reg(opts());
        CHECK(reg.get_options().compaction_slack == 1024);
        fill(reg);
        for (int k = 0; k < 100; ++k)
            reg.remove(k, offline_reason::left, at(1ms));
        CHECK(reg.deadline_entries() == 100);
        CHECK(reg.expire(at(1s)) == std::nullopt);
        CHECK(reg.deadline_entries() == 0);
    }
}

// ---- wall-clock times ---------------------------------------------------

namespace {
using sys_clock = std::chrono::system_clock;

// A fixed wall-clock epoch: a manual-clock instant t is epoch + t.
const sys_clock::time_point wall_epoch{std::chrono::seconds(1'800'000'000)};

sys_clock::time_point on_wall(time_point t)
{
    return wall_epoch + std::chrono::duration_cast<sys_clock::duration>(t.time_since_epoch());
}

struct wall_event {
    int key;
    heartbeat::transition kind;
    time_point at;
    sys_clock::time_point wall;
};
} // namespace

TEST_CASE("registry: events and records carry the wall-clock time of their transition", "[registry][wall_clock]")
{
    int calls = 0;
    auto o = opts(100ms, 3);
    o.wall_clock = [&calls](time_point t) {
        ++calls;
        return on_wall(t);
    };
    std::vector<wall_event> events;
    registry reg(o, [&](const registry::event_type& e) { events.push_back({e.key, e.kind, e.at, e.wall_time}); });

    reg.touch(1, at(1s));
    reg.touch(1, at(1s + 100ms)); // a beat is no transition: no wall time
    reg.touch(2, at(1s + 50ms));
    REQUIRE(events.size() == 2);
    CHECK(events[0].wall == on_wall(at(1s)));
    CHECK(events[1].wall == on_wall(at(1s + 50ms)));
    CHECK(reg.info(1)->wall_since == on_wall(at(1s)));
    CHECK(reg.info(2)->wall_since == on_wall(at(1s + 50ms)));
    CHECK(calls == 2);

    // Peer 1 times out, found by an expire that runs late; peer 2 is removed.
    reg.touch(2, at(1s + 400ms));
    reg.expire(at(1s + 450ms));
    reg.remove(2, offline_reason::left, at(1s + 500ms));
    REQUIRE(events.size() == 4);
    CHECK(events[2].key == 1);
    CHECK(events[2].kind == heartbeat::transition::offline);
    CHECK(events[2].wall == on_wall(at(1s + 450ms)));
    CHECK(events[3].wall == on_wall(at(1s + 500ms)));
    // Consistent with the steady times: offline's wall time minus online's
    // is offline's `at` minus online's.
    CHECK(events[2].wall - events[0].wall == events[2].at - events[0].at);
    CHECK(events[3].wall - events[1].wall == events[3].at - events[1].at);
    // The offline record keeps the wall time of its offline event.
    CHECK(reg.info(1)->status == peer_status::offline);
    CHECK(reg.info(1)->wall_since == events[2].wall);
    CHECK(calls == 4);

    // Back online: a new transition, a new wall time.
    reg.touch(1, at(3s));
    REQUIRE(events.size() == 5);
    CHECK(events[4].wall == on_wall(at(3s)));
    CHECK(reg.info(1)->wall_since == on_wall(at(3s)));

    // Queries read the records; they work nothing out.
    const int before = calls;
    (void)reg.snapshot();
    reg.for_each([](const registry::peer_info&) {});
    (void)reg.info(1);
    CHECK(calls == before);
}

TEST_CASE("registry: one wall time per event, the same for every observer", "[registry][wall_clock]")
{
    // A source that never answers the same twice: anything worked out a
    // second time would differ from the first.
    int calls = 0;
    auto o = opts();
    o.wall_clock = [&calls](time_point) { return wall_epoch + std::chrono::hours(++calls); };

    SECTION("the sink, the record and snapshot agree")
    {
        std::vector<sys_clock::time_point> seen;
        registry reg(o, [&](const registry::event_type& e) {
            seen.push_back(e.wall_time);
            // Inside the callback the record already holds it.
            CHECK(reg.info(e.key)->wall_since == e.wall_time);
        });
        reg.touch(7, at(1s));
        REQUIRE(seen.size() == 1);
        CHECK(seen[0] == wall_epoch + 1h);
        CHECK(reg.info(7)->wall_since == seen[0]);
        CHECK(reg.snapshot().at(0).wall_since == seen[0]);
        CHECK(calls == 1);
    }
    SECTION("live_registry hands every handler the wall time the registry worked out")
    {
        heartbeat::net::io_context io;
        using live = heartbeat::detail::live_registry<int, heartbeat::fixed_misses<test_clock>,
                                                      heartbeat::net::io_context::executor_type>;
        live table(io.get_executor(), o);
        // Two observers behind one handler, as the watcher's on_event and
        // subscribers are.
        std::vector<sys_clock::time_point> first;
        std::vector<sys_clock::time_point> second;
        table.set_handler([&](const live::event_type& e) {
            first.push_back(e.wall_time);
            second.push_back(e.wall_time);
        });
        table.locked([](registry& r) {
            r.touch(1, at(1s));
            r.touch(2, at(2s));
        });
        table.locked([](registry& r) { r.remove(1, offline_reason::left, at(3s)); });
        CHECK(calls == 3);
        table.deliver(); // later than the events: nothing is worked out now
        CHECK(calls == 3);
        const std::vector<sys_clock::time_point> expected{wall_epoch + 1h, wall_epoch + 2h, wall_epoch + 3h};
        CHECK(first == expected);
        CHECK(second == expected);
        CHECK(table.info(2)->wall_since == wall_epoch + 2h);
        CHECK(table.snapshot().at(0).wall_since == wall_epoch + 2h);
    }
}

TEST_CASE("registry: by default the wall time is the event's at, by the clocks' current offset", "[registry][wall_clock]")
{
    std::vector<sys_clock::time_point> walls;
    registry reg(opts(), [&](const registry::event_type& e) { walls.push_back(e.wall_time); });
    // An event at the manual clock's now happens now on the system clock;
    // one 5 s before it, 5 s ago.
    const auto before = sys_clock::now();
    reg.touch(1, test_clock::now());
    reg.touch(2, test_clock::now() - 5s);
    const auto after = sys_clock::now();
    REQUIRE(walls.size() == 2);
    CHECK(walls[0] >= before);
    CHECK(walls[0] <= after);
    CHECK(walls[1] >= before - 5s);
    CHECK(walls[1] <= after - 5s);
}
