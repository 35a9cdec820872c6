// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_DETAIL_ACCEPT_LOOP_HPP
#define HEARTBEAT_DETAIL_ACCEPT_LOOP_HPP

#include <heartbeat/detail/config.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <type_traits>
#include <utility>
#include <vector>

namespace heartbeat::detail {

/// Accepts connections from `acceptor` on `ex` and hands each socket (on
/// `socket_ex`, which sets its type) to `take(socket)`, until
/// `keep_going()` says stop, the accept is cancelled,
/// or the acceptor is closed (bad_descriptor). Before each accept,
/// `may_accept()` may pause the loop by returning false: its owner then
/// calls accept_loop again when it wants more connections (the sockets
/// wait in the kernel's backlog meanwhile). Transient errors (EMFILE,
/// ENFILE, ENOBUFS, ECONNABORTED) must neither end the loop nor spin it
/// while they last: they pause it for `retry_pause` on `retry`. The
/// functors hold what must stay alive (the owner) while the loop runs.
template <class Acceptor, class SocketExecutor, class Executor, class Take, class KeepGoing, class MayAccept>
void accept_loop(Acceptor& acceptor, const SocketExecutor& socket_ex, const Executor& ex, net::steady_timer& retry,
                 std::chrono::steady_clock::duration retry_pause, Take take, KeepGoing keep_going,
                 MayAccept may_accept)
{
    if (!keep_going() || !may_accept())
        return;
    acceptor.async_accept(socket_ex, net::bind_executor(
        ex, [&acceptor, socket_ex, ex, &retry, retry_pause, take = std::move(take), keep_going = std::move(keep_going),
             may_accept = std::move(may_accept)](const error_code& ec, auto socket) mutable {
            if (!keep_going() || ec == net::error::operation_aborted)
                return;
            if (!ec) {
                take(std::move(socket));
                return accept_loop(acceptor, socket_ex, ex, retry, retry_pause, std::move(take),
                                   std::move(keep_going), std::move(may_accept));
            }
            if (ec == net::error::bad_descriptor)
                return;
            retry.expires_after(retry_pause);
            retry.async_wait([&acceptor, socket_ex, ex, &retry, retry_pause, take = std::move(take),
                              keep_going = std::move(keep_going),
                              may_accept = std::move(may_accept)](const error_code& wec) mutable {
                if (!wec)
                    accept_loop(acceptor, socket_ex, ex, retry, retry_pause, std::move(take),
                                std::move(keep_going), std::move(may_accept));
            });
        }));
}

/// The accept loops of one server and the bound on transport handshakes
/// in progress: loops park while the bound is reached and go on, in the
/// order they parked, when a handshake ends. Owned by the server, used on
/// its strand; `in_progress()` may be read from any thread.
class accept_gate {
public:
    /// At most `max_handshakes` at once; zero: no bound.
    explicit accept_gate(std::size_t max_handshakes) : max_(max_handshakes) {}

    std::size_t in_progress() const noexcept { return count_.load(std::memory_order_relaxed); }
    bool full() const noexcept { return max_ != 0 && in_progress() >= max_; }

    /// An accept loop may go on (true), or is parked until `resume` is
    /// called by handshake_ended() (false).
    bool admit_or_park(std::function<void()> resume)
    {
        if (!full())
            return true;
        parked_.push_back(std::move(resume));
        return false;
    }

    void handshake_started() noexcept { count_.fetch_add(1, std::memory_order_relaxed); }

    void handshake_ended()
    {
        count_.fetch_sub(1, std::memory_order_relaxed);
        if (parked_.empty() || stopped_ || full())
            return;
        auto resume = std::move(parked_);
        parked_.clear();
        for (auto& f : resume)
            f();
    }

    /// `stop` cancels one accept loop (its acceptor and retry timer).
    void add_loop(std::function<void()> stop) { stops_.push_back(std::move(stop)); }

    /// Cancels every loop; parked ones are dropped.
    void stop()
    {
        stopped_ = true;
        for (auto& f : stops_)
            f();
        stops_.clear();
        parked_.clear();
    }

private:
    std::size_t max_;
    std::atomic<std::size_t> count_{0};
    std::vector<std::function<void()>> parked_;
    std::vector<std::function<void()>> stops_;
    bool stopped_ = false;
};

} // namespace heartbeat::detail

#endif
