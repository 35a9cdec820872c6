// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_KEEPALIVE_HPP
#define HEARTBEAT_KEEPALIVE_HPP

#include <heartbeat/detail/config.hpp>

#include <chrono>
#include <cstddef>

#if defined(__linux__)
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#endif

namespace heartbeat {

namespace detail {
// An integer socket option in the form Asio's set_option/get_option take.
template <int Level, int Name>
class int_socket_option {
public:
    int_socket_option() = default;
    explicit int_socket_option(int v) : value_(v) {}
    int value() const noexcept { return value_; }
    template <class Protocol> int level(const Protocol&) const noexcept { return Level; }
    template <class Protocol> int name(const Protocol&) const noexcept { return Name; }
    template <class Protocol> int* data(const Protocol&) noexcept { return &value_; }
    template <class Protocol> const int* data(const Protocol&) const noexcept { return &value_; }
    template <class Protocol> std::size_t size(const Protocol&) const noexcept { return sizeof(value_); }
    template <class Protocol> void resize(const Protocol&, std::size_t) {}

private:
    int value_ = 0;
};

#if defined(__linux__)
using tcp_keepidle = int_socket_option<IPPROTO_TCP, TCP_KEEPIDLE>;
using tcp_keepintvl = int_socket_option<IPPROTO_TCP, TCP_KEEPINTVL>;
using tcp_keepcnt = int_socket_option<IPPROTO_TCP, TCP_KEEPCNT>;
using tcp_user_timeout = int_socket_option<IPPROTO_TCP, TCP_USER_TIMEOUT>;
#endif
} // namespace detail

/// Kernel-level liveness for a TCP socket: the layer beneath the
/// application heartbeat. Keepalive probes find a peer whose host vanished
/// (power loss, a dropped NAT mapping) even while nobody writes, and
/// TCP_USER_TIMEOUT bounds how long written data may stay unacknowledged
/// before the kernel gives up on the connection. Neither sees a peer
/// process that hangs while its kernel still answers: that is what the
/// application heartbeat is for. Use both.
struct tcp_keepalive_options {
    /// Idle time before the first probe (TCP_KEEPIDLE).
    std::chrono::seconds idle = std::chrono::seconds(30);
    /// Time between probes (TCP_KEEPINTVL).
    std::chrono::seconds interval = std::chrono::seconds(5);
    /// Unanswered probes before the connection is dropped (TCP_KEEPCNT).
    int count = 3;
    /// Unacknowledged data timeout (TCP_USER_TIMEOUT); zero leaves the
    /// system default. A common choice is idle + interval * count.
    std::chrono::milliseconds user_timeout = std::chrono::milliseconds(0);
};

/// Enables TCP keepalive on `socket` with the given timing, and sets
/// TCP_USER_TIMEOUT when asked. On systems without the per-socket options
/// only SO_KEEPALIVE is set.
///
/// @returns the first error met, or success.
template <class Socket>
error_code set_tcp_keepalive(Socket& socket, const tcp_keepalive_options& o = {})
{
    error_code ec;
    socket.set_option(net::socket_base::keep_alive(true), ec);
    if (ec)
        return ec;
#if defined(__linux__)
    socket.set_option(detail::tcp_keepidle(static_cast<int>(o.idle.count())), ec);
    if (!ec)
        socket.set_option(detail::tcp_keepintvl(static_cast<int>(o.interval.count())), ec);
    if (!ec)
        socket.set_option(detail::tcp_keepcnt(o.count), ec);
    if (!ec && o.user_timeout.count() > 0)
        socket.set_option(detail::tcp_user_timeout(static_cast<int>(o.user_timeout.count())), ec);
#else
    (void)o;
#endif
    return ec;
}

/// Reads back what the kernel holds for `socket` (Linux only; elsewhere
/// returns the defaults and operation_not_supported).
template <class Socket>
tcp_keepalive_options get_tcp_keepalive(Socket& socket, error_code& ec)
{
    tcp_keepalive_options o;
#if defined(__linux__)
    detail::tcp_keepidle idle;
    detail::tcp_keepintvl interval;
    detail::tcp_keepcnt count;
    detail::tcp_user_timeout user_timeout;
    socket.get_option(idle, ec);
    if (!ec)
        socket.get_option(interval, ec);
    if (!ec)
        socket.get_option(count, ec);
    if (!ec)
        socket.get_option(user_timeout, ec);
    o.idle = std::chrono::seconds(idle.value());
    o.interval = std::chrono::seconds(interval.value());
    o.count = count.value();
    o.user_timeout = std::chrono::milliseconds(user_timeout.value());
#else
    (void)socket;
    ec = net::error::operation_not_supported;
#endif
    return o;
}

} // namespace heartbeat

#endif
