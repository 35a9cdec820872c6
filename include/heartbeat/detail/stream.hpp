// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_DETAIL_STREAM_HPP
#define HEARTBEAT_DETAIL_STREAM_HPP

#include <heartbeat/detail/config.hpp>

#include <chrono>
#include <optional>
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

} // namespace heartbeat::detail

#endif
