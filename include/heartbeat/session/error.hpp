// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_SESSION_ERROR_HPP
#define HEARTBEAT_SESSION_ERROR_HPP

// The reasons a session ends, as the session machines decide them, and
// their mapping to and from the wire's codes. No Asio: heartbeat/error.hpp
// registers this enum as an error_code for the asynchronous API.

#include <heartbeat/wire/frame.hpp>

#include <array>
#include <cstdint>
#include <vector>

namespace heartbeat {

/// Errors reported by heartbeat's asynchronous operations.
enum class error {
    hello_timeout = 1,   ///< no complete HELLO / WELCOME in time
    auth_failed,         ///< the authenticator refused the peer
    duplicate_id,        ///< the id is online elsewhere and newcomers are rejected
    server_full,         ///< max_peers reached
    bad_id,              ///< empty or unacceptable id
    unsupported_version, ///< the other side speaks another protocol version
    protocol_error,      ///< malformed or out-of-order frame
    frame_too_large,     ///< a frame beyond the receive limit
    unknown_frame_type,  ///< a type byte that is not in the protocol
    bad_magic,           ///< a HELLO that does not start with "HB"
    peer_lost,           ///< N beats went unanswered: the other side is gone
    rejected,            ///< the server refused us with an ERROR frame
    replaced,            ///< a newer session with the same id took over
    peer_left,           ///< the other side said GOODBYE
    shutting_down,       ///< the component is stopping
    send_queue_full,     ///< too many bytes queued for a slow peer
    rate_limited,        ///< frames arrived faster than the server allows
    unacceptable_terms,  ///< the server's WELCOME holds us to terms outside our bounds
    message_too_large,   ///< a message larger than the peer accepts (refused locally)
    handshake_failed,    ///< the transport's own handshake (TLS) failed
    timeout,             ///< the server heard nothing from us within its deadline (ERROR timeout)
    kicked               ///< the server's application ended the session (watcher::kick); keep last
};

/// The highest value of `error`.
inline constexpr error last_error = error::kicked;

/// A short description of `e`, the message of its error_code and the text
/// an ERROR frame carries.
constexpr const char* describe(error e) noexcept
{
    switch (e) {
    case error::hello_timeout: return "handshake not completed in time";
    case error::auth_failed: return "authentication failed";
    case error::duplicate_id: return "peer id already online";
    case error::server_full: return "server has no room for more peers";
    case error::bad_id: return "peer id empty or not acceptable";
    case error::unsupported_version: return "unsupported protocol version";
    case error::protocol_error: return "protocol error";
    case error::frame_too_large: return "frame exceeds the size limit";
    case error::unknown_frame_type: return "unknown frame type";
    case error::bad_magic: return "not a heartbeat HELLO";
    case error::peer_lost: return "peer stopped answering beats";
    case error::rejected: return "refused by the server";
    case error::replaced: return "session replaced by a newer one";
    case error::peer_left: return "peer left";
    case error::shutting_down: return "shutting down";
    case error::send_queue_full: return "send queue full";
    case error::rate_limited: return "frames sent faster than allowed";
    case error::unacceptable_terms: return "the server's interval or miss count is outside the accepted bounds";
    case error::message_too_large: return "message larger than the peer's frame limit";
    case error::handshake_failed: return "the transport's handshake (TLS) failed";
    case error::timeout: return "the server heard nothing from this peer within its deadline";
    case error::kicked: return "the server ended the session";
    }
    return "unknown heartbeat error";
}

/// The error for a wire decode failure.
inline error to_error(wire::decode_status s) noexcept
{
    switch (s) {
    case wire::decode_status::unknown_frame_type: return error::unknown_frame_type;
    case wire::decode_status::frame_too_large: return error::frame_too_large;
    case wire::decode_status::bad_magic: return error::bad_magic;
    case wire::decode_status::unsupported_version: return error::unsupported_version;
    case wire::decode_status::malformed_frame:
    case wire::decode_status::ok: break;
    }
    return error::protocol_error;
}

/// The code an ERROR frame carries for a local error.
inline wire::error_code_value to_wire(error e) noexcept
{
    switch (e) {
    case error::unsupported_version: return wire::error_code_value::unsupported_version;
    case error::auth_failed: return wire::error_code_value::auth_failed;
    case error::duplicate_id: return wire::error_code_value::duplicate_id;
    case error::hello_timeout: return wire::error_code_value::hello_timeout;
    case error::frame_too_large: return wire::error_code_value::frame_too_large;
    case error::server_full: return wire::error_code_value::server_full;
    case error::bad_id: return wire::error_code_value::bad_id;
    case error::shutting_down: return wire::error_code_value::shutting_down;
    case error::rate_limited: return wire::error_code_value::rate_limited;
    case error::timeout: return wire::error_code_value::timeout;
    default: return wire::error_code_value::protocol_error;
    }
}

/// Does `e` have a code of its own on the wire (to_wire does not fall back
/// to protocol_error for it)?
inline bool has_wire_code(error e) noexcept
{
    return e == error::protocol_error || to_wire(e) != wire::error_code_value::protocol_error;
}

/// The local error for a received ERROR frame's code.
inline error from_wire(std::uint16_t code) noexcept
{
    switch (static_cast<wire::error_code_value>(code)) {
    case wire::error_code_value::unsupported_version: return error::unsupported_version;
    case wire::error_code_value::auth_failed: return error::auth_failed;
    case wire::error_code_value::duplicate_id: return error::duplicate_id;
    case wire::error_code_value::hello_timeout: return error::hello_timeout;
    case wire::error_code_value::frame_too_large: return error::frame_too_large;
    case wire::error_code_value::server_full: return error::server_full;
    case wire::error_code_value::bad_id: return error::bad_id;
    case wire::error_code_value::shutting_down: return error::shutting_down;
    case wire::error_code_value::protocol_error: return error::protocol_error;
    case wire::error_code_value::rate_limited: return error::rate_limited;
    case wire::error_code_value::timeout: return error::timeout;
    }
    return error::rejected;
}

namespace detail {

/// The ERROR frame a server sends for `e`: its wire code and description.
/// The bytes depend on nothing else, so they are built once and shared by
/// every session (a refusal costs no buffer of its own).
inline const std::vector<std::uint8_t>& error_frame(error e)
{
    constexpr std::size_t count = static_cast<std::size_t>(last_error) + 1;
    static const std::array<std::vector<std::uint8_t>, count> frames = [] {
        std::array<std::vector<std::uint8_t>, count> f;
        for (std::size_t i = 1; i < count; ++i)
            wire::append_error(f[i], to_wire(static_cast<error>(i)), describe(static_cast<error>(i)));
        return f;
    }();
    const auto i = static_cast<std::size_t>(e);
    return frames[i < count ? i : static_cast<std::size_t>(error::protocol_error)];
}

} // namespace detail

} // namespace heartbeat

#endif
