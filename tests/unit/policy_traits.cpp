#include <heartbeat/core/policy_traits.hpp>

#include <heartbeat/core/fixed_misses.hpp>
#include <heartbeat/core/phi_accrual.hpp>
#include <heartbeat/testing/manual_clock.hpp>

#include <catch2/catch.hpp>

namespace {
struct silent_policy {}; // says nothing: not a miss counter
struct counting_policy {
    static constexpr bool counts_misses = true;
};
struct explicit_no {
    static constexpr bool counts_misses = false;
};
} // namespace

TEST_CASE("counts_echoes_v: true for miss-counting policies, false for adaptive ones and by default", "[policy]")
{
    using clock = heartbeat::testing::manual_clock;
    STATIC_REQUIRE(heartbeat::counts_echoes_v<heartbeat::fixed_misses<>>);
    STATIC_REQUIRE(heartbeat::counts_echoes_v<heartbeat::fixed_misses<clock>>);
    STATIC_REQUIRE_FALSE(heartbeat::counts_echoes_v<heartbeat::phi_accrual<>>);
    STATIC_REQUIRE_FALSE(heartbeat::counts_echoes_v<heartbeat::phi_accrual<clock>>);
    STATIC_REQUIRE(heartbeat::counts_echoes_v<counting_policy>);
    STATIC_REQUIRE_FALSE(heartbeat::counts_echoes_v<explicit_no>);
    STATIC_REQUIRE_FALSE(heartbeat::counts_echoes_v<silent_policy>);
}
