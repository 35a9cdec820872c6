// Polling for a condition that real sockets and processes make true in
// their own time, with a bound.
#ifndef HEARTBEAT_TEST_EVENTUALLY_HPP
#define HEARTBEAT_TEST_EVENTUALLY_HPP

#include <chrono>
#include <thread>

namespace heartbeat_test {

/// Polls `pred` (a cheap, thread-safe query) every millisecond until it
/// holds or `timeout` passes; the result says which.
template <class Pred>
bool eventually(Pred pred, std::chrono::steady_clock::duration timeout = std::chrono::seconds(5))
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

} // namespace heartbeat_test

#endif
