// The deadline schedule's 32-bit stamps: when they run out they are
// renumbered, and equal deadlines still fall due in the order they were
// set, with the entries left dead by earlier moves and removals ignored.
#include <heartbeat/core/detail/deadline_schedule.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <vector>

namespace {
using namespace std::chrono_literals;
using heartbeat::peer_status;
using time_point = std::chrono::steady_clock::time_point;
using schedule = heartbeat::detail::deadline_schedule<time_point>;

// What the schedule reads of a registry slot, with a fixed timeout.
struct fake_slot {
    time_point last_seen{};
    std::uint32_t stamp = 0;
    std::uint32_t armed_stamp = 0;
    peer_status status = peer_status::online;
    bool deferred = false;
};

constexpr auto timeout = 3s;
const auto deadline_of = [](const fake_slot& s) { return s.last_seen + timeout; };

// A beat at `now`, as registry::touch gives it.
void beat(schedule& sched, std::vector<fake_slot>& slots, std::uint32_t i, time_point now)
{
    const time_point before = deadline_of(slots[i]);
    slots[i].last_seen = now;
    sched.restamp(slots, i);
    sched.moved(slots, i, before, deadline_of(slots[i]));
}

std::vector<std::uint32_t> due_order(schedule& sched, std::vector<fake_slot>& slots, time_point now)
{
    std::vector<std::uint32_t> order;
    sched.pop_due(slots, now, {}, deadline_of, [&](std::uint32_t i) {
        slots[i].status = peer_status::offline;
        order.push_back(i);
    });
    return order;
}
} // namespace

TEST_CASE("deadline schedule: stamps renumbered on running out keep the order of equal deadlines",
          "[deadline_schedule]")
{
    const time_point t0{1h};
    const std::uint32_t last = std::numeric_limits<std::uint32_t>::max();
    // Ten peers come online; the stamps run out in the middle of the
    // beats below, whatever the starting point.
    for (const std::uint32_t start : {last - 20, last - 15, last - 11, last - 3}) {
        CAPTURE(start);
        schedule sched(start);
        std::vector<fake_slot> slots(10);
        for (std::uint32_t i = 0; i < 10; ++i) {
            slots[i].last_seen = t0;
            sched.restamp(slots, i);
            sched.arm(slots, i, deadline_of(slots[i]));
        }
        // An earlier deadline for peer 3 leaves its first entry dead;
        // peer 7 goes away and leaves its entry behind.
        slots[3].last_seen = t0 - 1s;
        sched.restamp(slots, 3);
        sched.moved(slots, 3, t0 + timeout, deadline_of(slots[3]));
        slots[7].status = peer_status::unknown;
        // Everyone else beats at one instant, in reverse order: equal
        // deadlines, to be raised in the order of the beats.
        const time_point t1 = t0 + 1s;
        for (std::uint32_t i = 10; i-- > 0;)
            if (i != 3 && i != 7)
                beat(sched, slots, i, t1);
        // Then peer 5 beats again at that instant, which puts it last.
        beat(sched, slots, 5, t1);

        CHECK(sched.next_deadline(slots, deadline_of) == t0 - 1s + timeout);
        CHECK(due_order(sched, slots, t1 + timeout)
              == std::vector<std::uint32_t>{3, 9, 8, 6, 4, 2, 1, 0, 5});
        CHECK(sched.next_deadline(slots, deadline_of) == std::nullopt);
    }
}

TEST_CASE("deadline schedule: a renumbering drops the dead entries and keeps the live ones' turn",
          "[deadline_schedule]")
{
    const time_point t0{1h};
    schedule sched(std::numeric_limits<std::uint32_t>::max() - 4);
    std::vector<fake_slot> slots(4);
    for (std::uint32_t i = 0; i < 4; ++i) {
        slots[i].last_seen = t0;
        sched.restamp(slots, i);
        sched.arm(slots, i, deadline_of(slots[i]));
    }
    slots[1].status = peer_status::unknown; // removed: its entry is dead
    CHECK(sched.size() == 4);
    sched.restamp(slots, 2); // the stamps run out here
    CHECK(sched.size() == 3);
    // In use were the stamps of 0, 2 and 3 (each slot's equals its entry's):
    // renumbered 1 to 3, so 2's new stamp is 4.
    CHECK(slots[2].stamp == 4);
    CHECK(due_order(sched, slots, t0 + timeout) == std::vector<std::uint32_t>{0, 3, 2});
}
