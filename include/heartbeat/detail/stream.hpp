// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_DETAIL_STREAM_HPP
#define HEARTBEAT_DETAIL_STREAM_HPP

#include <heartbeat/detail/config.hpp>

#include <type_traits>
#include <utility>

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

} // namespace heartbeat::detail

#endif
