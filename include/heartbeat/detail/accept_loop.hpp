// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_DETAIL_ACCEPT_LOOP_HPP
#define HEARTBEAT_DETAIL_ACCEPT_LOOP_HPP

#include <heartbeat/detail/config.hpp>

#include <chrono>
#include <type_traits>
#include <utility>

namespace heartbeat::detail {

/// Accepts connections from `acceptor` on `ex` and hands each socket to
/// `take(socket)`, until `keep_going()` says stop, the accept is cancelled,
/// or the acceptor is closed (bad_descriptor). Before each accept,
/// `may_accept()` may pause the loop by returning false: its owner then
/// calls accept_loop again when it wants more connections (the sockets
/// wait in the kernel's backlog meanwhile). Transient errors (EMFILE,
/// ENFILE, ENOBUFS, ECONNABORTED) must neither end the loop nor spin it
/// while they last: they pause it for `retry_pause` on `retry`. The
/// functors hold what must stay alive (the owner) while the loop runs.
template <class Acceptor, class Executor, class Take, class KeepGoing, class MayAccept>
void accept_loop(Acceptor& acceptor, const Executor& ex, net::steady_timer& retry,
                 std::chrono::steady_clock::duration retry_pause, Take take, KeepGoing keep_going,
                 MayAccept may_accept)
{
    if (!keep_going() || !may_accept())
        return;
    acceptor.async_accept(net::bind_executor(
        ex, [&acceptor, ex, &retry, retry_pause, take = std::move(take), keep_going = std::move(keep_going),
             may_accept = std::move(may_accept)](const error_code& ec, auto socket) mutable {
            if (!keep_going() || ec == net::error::operation_aborted)
                return;
            if (!ec) {
                if constexpr (std::is_same_v<typename Acceptor::protocol_type, net::ip::tcp>) {
                    // Echoes and last frames are small: never hold them back.
                    error_code ignored;
                    socket.set_option(net::ip::tcp::no_delay(true), ignored);
                }
                take(std::move(socket));
                return accept_loop(acceptor, ex, retry, retry_pause, std::move(take), std::move(keep_going),
                                   std::move(may_accept));
            }
            if (ec == net::error::bad_descriptor)
                return;
            retry.expires_after(retry_pause);
            retry.async_wait([&acceptor, ex, &retry, retry_pause, take = std::move(take),
                              keep_going = std::move(keep_going),
                              may_accept = std::move(may_accept)](const error_code& wec) mutable {
                if (!wec)
                    accept_loop(acceptor, ex, retry, retry_pause, std::move(take), std::move(keep_going),
                                std::move(may_accept));
            });
        }));
}

} // namespace heartbeat::detail

#endif
