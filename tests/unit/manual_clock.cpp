#include <heartbeat/testing/manual_clock.hpp>

#include <catch2/catch.hpp>

#include <type_traits>

namespace {
struct own_tag;
using test_clock = heartbeat::testing::basic_manual_clock<own_tag>;
using other_clock = heartbeat::testing::basic_manual_clock<struct other_tag>;
using namespace std::chrono_literals;
} // namespace

TEST_CASE("manual clock moves only when told", "[manual_clock]")
{
    static_assert(test_clock::is_steady);
    static_assert(std::is_same_v<test_clock::duration, std::chrono::nanoseconds>);
    test_clock::reset();
    other_clock::reset();
    CHECK(test_clock::now().time_since_epoch() == 0ns);

    test_clock::advance(1500ms);
    CHECK(test_clock::now().time_since_epoch() == 1500ms);
    CHECK(test_clock::now() == test_clock::now());

    SECTION("it never moves back")
    {
        test_clock::advance(-1s);
        CHECK(test_clock::now().time_since_epoch() == 1500ms);
        test_clock::advance_to(test_clock::time_point(1s));
        CHECK(test_clock::now().time_since_epoch() == 1500ms);
        test_clock::advance_to(test_clock::time_point(3s));
        CHECK(test_clock::now().time_since_epoch() == 3s);
    }

    SECTION("clocks with different tags are independent")
    {
        CHECK(other_clock::now().time_since_epoch() == 0ns);
        other_clock::advance(7ns);
        CHECK(test_clock::now().time_since_epoch() == 1500ms);
        CHECK(other_clock::now().time_since_epoch() == 7ns);
    }
}
