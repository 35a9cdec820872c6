// Test support: run an io_context until a condition holds, within a bound.
#ifndef HEARTBEAT_TESTS_RUN_UNTIL_HPP
#define HEARTBEAT_TESTS_RUN_UNTIL_HPP

#include <heartbeat/detail/config.hpp>

#include <chrono>

namespace heartbeat_test {

/// Runs handlers one at a time until `done()` holds or `timeout` passes.
template <class Pred>
bool run_until(heartbeat::net::io_context& io, Pred done,
               std::chrono::steady_clock::duration timeout = std::chrono::seconds(10))
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        io.restart();
        io.run_one_for(std::chrono::milliseconds(10));
    }
    return done();
}

} // namespace heartbeat_test

#endif
