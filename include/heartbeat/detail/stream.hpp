// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_DETAIL_STREAM_HPP
#define HEARTBEAT_DETAIL_STREAM_HPP

#include <heartbeat/detail/config.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#if defined(__linux__)
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#endif

namespace heartbeat::detail {

template <class T, class = void>
struct is_async_stream : std::false_type {
};

// The operations the components use: an executor, reads and writes.
template <class T>
struct is_async_stream<
    T, std::void_t<typename T::executor_type,
                   decltype(std::declval<T&>().get_executor()),
                   decltype(std::declval<T&>().async_read_some(
                       std::declval<net::mutable_buffer>(), std::declval<void (*)(error_code, std::size_t)>())),
                   decltype(std::declval<T&>().async_write_some(
                       std::declval<net::const_buffer>(), std::declval<void (*)(error_code, std::size_t)>()))>>
    : std::true_type {
};

template <class T, class = void>
struct has_close : std::false_type {
};
template <class T>
struct has_close<T, std::void_t<decltype(std::declval<T&>().close(std::declval<error_code&>()))>>
    : std::true_type {
};

template <class T, class = void>
struct has_lowest_layer : std::false_type {
};
template <class T>
struct has_lowest_layer<T, std::void_t<decltype(std::declval<T&>().lowest_layer())>> : std::true_type {
};

template <class T, class = void>
struct has_next_layer : std::false_type {
};
template <class T>
struct has_next_layer<T, std::void_t<decltype(std::declval<T&>().next_layer())>> : std::true_type {
};

/// Closes the transport under any stream: the stream itself if it can be
/// closed, else its lowest layer (a TLS stream's socket). Errors are
/// ignored: the point is to release the descriptor and cancel operations.
template <class Stream>
void close_stream(Stream& s) noexcept
{
    error_code ignored;
    if constexpr (has_close<Stream>::value)
        s.close(ignored);
    else if constexpr (has_lowest_layer<Stream>::value)
        s.lowest_layer().close(ignored);
    else if constexpr (has_next_layer<Stream>::value)
        close_stream(s.next_layer());
    else
        static_assert(has_close<Stream>::value, "heartbeat: cannot find how to close this stream");
}

template <class T, class = void>
struct has_shutdown : std::false_type {
};
template <class T>
struct has_shutdown<T, std::void_t<decltype(std::declval<T&>().shutdown(net::socket_base::shutdown_send,
                                                                       std::declval<error_code&>()))>>
    : std::true_type {
};

/// Half-closes the transport under any stream (no more sends; reads go on),
/// so a goodbye is followed by an orderly close instead of a reset. A
/// stream with no socket beneath is left as it is.
template <class Stream>
void shutdown_send(Stream& s) noexcept
{
    error_code ignored;
    if constexpr (has_shutdown<Stream>::value)
        s.shutdown(net::socket_base::shutdown_send, ignored);
    else if constexpr (has_lowest_layer<Stream>::value)
        shutdown_send(s.lowest_layer());
    else if constexpr (has_next_layer<Stream>::value)
        shutdown_send(s.next_layer());
}

template <class T, class = void>
struct has_async_shutdown : std::false_type {
};
// A TLS stream's close_notify (ssl::stream::async_shutdown).
template <class T>
struct has_async_shutdown<
    T, std::void_t<decltype(std::declval<T&>().async_shutdown(std::declval<void (*)(error_code)>()))>>
    : std::true_type {
};

/// Ends the sending direction after the last frame: a TLS stream sends its
/// close_notify (the operation then waits for the peer's; the session's
/// close deadline bounds it, since closing the stream cancels it); other
/// streams half-close their socket. `done` runs, if at all, on completion
/// of the TLS shutdown; it keeps what the operation needs alive.
template <class Stream, class Handler>
void close_send(Stream& s, Handler&& done)
{
    if constexpr (has_async_shutdown<Stream>::value)
        s.async_shutdown(std::forward<Handler>(done));
    else
        shutdown_send(s);
}

/// True for the ways a transport reports that the peer closed or reset the
/// connection, as opposed to saying something wrong: EOF, a reset, and a
/// TLS stream cut short without its close_notify (which Asio reports in
/// its own category, so it is matched by name, without TLS headers).
inline bool is_plain_close(const error_code& ec) noexcept
{
    if (ec == net::error::eof || ec == net::error::connection_reset || ec == net::error::broken_pipe)
        return true;
    return std::string_view(ec.category().name()) == "asio.ssl.stream" && ec.value() == 1; // stream_truncated
}

template <class T, class = void>
struct has_server_handshake : std::false_type {
};
// Streams with a handshake of their own in the manner of ssl::stream:
// async_handshake(Stream::server, handler).
template <class T>
struct has_server_handshake<T, std::void_t<decltype(std::declval<T&>().async_handshake(
                                   T::server, std::declval<void (*)(error_code)>()))>> : std::true_type {
};

template <class T, class = void>
struct has_client_handshake : std::false_type {
};
template <class T>
struct has_client_handshake<T, std::void_t<decltype(std::declval<T&>().async_handshake(
                                   T::client, std::declval<void (*)(error_code)>()))>> : std::true_type {
};

template <class T, class = void>
struct has_remote_endpoint : std::false_type {
};
template <class T>
struct has_remote_endpoint<T, std::void_t<decltype(std::declval<T&>().remote_endpoint(std::declval<error_code&>()))>>
    : std::true_type {
};

/// The peer's address under any stream ("127.0.0.1:50312"), or an empty
/// string where the transport has none (a test stream, a closed socket).
template <class Stream>
std::string remote_address(Stream& s)
{
    if constexpr (has_remote_endpoint<Stream>::value) {
        error_code ec;
        const auto ep = s.remote_endpoint(ec);
        if (ec)
            return {};
        if constexpr (std::is_same_v<std::decay_t<decltype(ep)>, net::ip::tcp::endpoint>) {
            const auto a = ep.address();
            return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
        }
        else {
            return {};
        }
    }
    else if constexpr (has_lowest_layer<Stream>::value)
        return remote_address(s.lowest_layer());
    else if constexpr (has_next_layer<Stream>::value)
        return remote_address(s.next_layer());
    else
        return {};
}

template <class T, class = void>
struct has_integral_native_handle : std::false_type {
};
template <class T>
struct has_integral_native_handle<T, std::void_t<decltype(std::declval<T&>().native_handle())>>
    : std::is_integral<std::decay_t<decltype(std::declval<T&>().native_handle())>> {
};

/// The kernel's smoothed round-trip estimate for the TCP connection under
/// `s` (Linux TCP_INFO), or nothing for other transports and systems.
template <class Stream>
std::optional<std::chrono::microseconds> kernel_rtt(Stream& s) noexcept
{
    if constexpr (has_integral_native_handle<Stream>::value) {
#if defined(__linux__)
        tcp_info info{};
        socklen_t len = sizeof(info);
        if (::getsockopt(static_cast<int>(s.native_handle()), IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
            return std::nullopt;
        return std::chrono::microseconds(info.tcpi_rtt);
#else
        return std::nullopt;
#endif
    }
    else if constexpr (has_lowest_layer<Stream>::value)
        return kernel_rtt(s.lowest_layer());
    else if constexpr (has_next_layer<Stream>::value)
        return kernel_rtt(s.next_layer());
    else
        return std::nullopt;
}

/// Turns Nagle's algorithm off on the TCP connection under `s`: heartbeat
/// frames are small, and a beat held back until the peer's delayed ACK
/// (40 ms on Linux) behind an unanswered frame (a TERMS_ACK, a DATA) can
/// cost a short interval its deadline. Other transports are left alone (the
/// call fails harmlessly on a Unix-domain socket).
template <class Stream>
void disable_nagle(Stream& s) noexcept
{
    if constexpr (has_integral_native_handle<Stream>::value) {
#if defined(__linux__) || defined(__APPLE__) || defined(__FreeBSD__)
        const int on = 1;
        (void)::setsockopt(static_cast<int>(s.native_handle()), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
#endif
    }
    else if constexpr (has_lowest_layer<Stream>::value)
        disable_nagle(s.lowest_layer());
    else if constexpr (has_next_layer<Stream>::value)
        disable_nagle(s.next_layer());
}

template <class T, class = void>
struct is_stream_socket : std::false_type {
};
// An Asio stream socket itself (TCP, Unix domain), not a layer over one:
// the watcher may then write to it at once and read it on readiness,
// without an asynchronous operation per beat (impl/watcher_transport.hpp).
template <class T>
struct is_stream_socket<T, std::void_t<typename T::protocol_type, typename T::executor_type>>
    : std::is_base_of<net::basic_stream_socket<typename T::protocol_type, typename T::executor_type>, T> {
};

template <class T, class = void>
struct has_transport_identity : std::false_type {
};
// A transport that names the peer itself (a WebSocket upgrade in ping
// mode): `transport_identity()` gives the HELLO it stands for, or nothing.
template <class T>
struct has_transport_identity<T, std::void_t<decltype(std::declval<const T&>().transport_identity())>>
    : std::true_type {
};

template <class T, class = void>
struct has_async_probe : std::false_type {
};
// A transport with a liveness probe of its own (a WebSocket ping):
// `async_probe(handler(error_code, std::optional<microseconds> rtt))`.
template <class T>
struct has_async_probe<
    T, std::void_t<decltype(std::declval<T&>().async_probe(
           std::declval<void (*)(error_code, std::optional<std::chrono::microseconds>)>()))>> : std::true_type {
};

} // namespace heartbeat::detail

#endif
