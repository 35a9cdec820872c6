// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_WIRE_FRAME_HPP
#define HEARTBEAT_WIRE_FRAME_HPP

// The heartbeat wire protocol, versions 1 and 2 (docs/PROTOCOL.md): frame
// types, payload layouts, encoders and payload parsers. No Asio, no I/O.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace heartbeat::wire {

/// The base protocol: HELLO's version byte (its layout), and WELCOME's
/// version in a session that runs version 1.
inline constexpr std::uint8_t protocol_version = 1;

/// The revision a client asks for with hello_flags::v2 and a server grants
/// with a WELCOME of this version. Version 1 peers never see its frames.
inline constexpr std::uint8_t protocol_version_2 = 2;

/// Bits of HELLO's flags byte, which version 1 servers ignore: a client
/// asks for a revision here, so meeting an older server costs neither a
/// refusal nor a round trip.
namespace hello_flags {
inline constexpr std::uint8_t v2 = 0x01; ///< the client speaks version 2
/// The client answers PROBEs with a BEAT at once (meaningful only together
/// with v2): the server may then drive the session's liveness itself, for a
/// client whose own timers may run late (a browser tab in the background).
inline constexpr std::uint8_t probes = 0x02;
} // namespace hello_flags

/// A duration as a u32 count of milliseconds, at least `floor` (an
/// interval of 0 ms would mean "none").
template <class Rep, class Period>
std::uint32_t to_wire_ms(std::chrono::duration<Rep, Period> d, std::uint32_t floor) noexcept
{
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    const long long lo = floor;
    return static_cast<std::uint32_t>(ms < lo ? lo : ms > 0xFFFF'FFFFLL ? 0xFFFF'FFFFLL : ms);
}

/// Every frame starts with a 4-byte header: type, then payload length as a
/// 24-bit big-endian integer.
inline constexpr std::size_t header_size = 4;

/// The largest payload the header can describe.
inline constexpr std::size_t max_encodable_payload = 0xFF'FFFF;

/// The default receive limit for one frame's payload.
inline constexpr std::size_t default_max_payload = 64 * 1024;

/// HELLO begins with these two bytes ("HB"), so garbage is refused at once.
inline constexpr std::uint8_t hello_magic[2] = {0x48, 0x42};

/// Bounds of the fields of HELLO.
inline constexpr std::size_t max_id_size = 255;
inline constexpr std::size_t max_credential_size = 4096;

enum class frame_type : std::uint8_t {
    hello = 0x01,   ///< client -> server: who I am, how often I beat
    welcome = 0x02, ///< server -> client: accepted, and the terms
    error = 0x03,   ///< either way: why the sender is about to close
    beat = 0x04,    ///< client -> server: a sign of life with a sequence number
    echo = 0x05,    ///< server -> client: the answer to a beat
    data = 0x06,    ///< either way: application bytes (framed mode)
    goodbye = 0x07, ///< either way: a graceful leave
    // Version 2 only: sent only in a session whose WELCOME said version 2
    // (retry_after: to a client whose HELLO asked for it; probe: to one
    // whose HELLO offered hello_flags::probes too).
    terms = 0x08,       ///< server -> client: new interval / misses / grace mid-session
    terms_ack = 0x09,   ///< client -> server: terms adopted, and the client's frame limit
    retry_after = 0x0A, ///< server -> client: do not reconnect before this (ahead of ERROR)
    probe = 0x0B        ///< server -> client: answer with a BEAT now (a client that offered probes)
};

/// The highest frame type of version 1: a version 1 receiver refuses any
/// type above it.
inline constexpr std::uint8_t last_v1_frame_type = 0x07;

constexpr bool is_known(std::uint8_t t) noexcept { return t >= 0x01 && t <= 0x0B; }

/// Codes carried by an ERROR frame (16 bits on the wire).
enum class error_code_value : std::uint16_t {
    protocol_error = 1,      ///< malformed frame or frame out of order
    unsupported_version = 2, ///< HELLO's version is not spoken here
    auth_failed = 3,         ///< the authenticator refused the HELLO
    duplicate_id = 4,        ///< the id is online and the policy rejects newcomers
    hello_timeout = 5,       ///< no HELLO within the server's hello timeout
    frame_too_large = 6,     ///< a frame exceeded the receiver's limit
    server_full = 7,         ///< the server tracks max_peers already
    bad_id = 8,              ///< empty or unacceptable peer id
    shutting_down = 9,       ///< the server is stopping
    rate_limited = 10,       ///< the peer sent frames faster than allowed
    timeout = 11             ///< the server heard nothing from the peer within its deadline
};

/// Reasons carried by a GOODBYE frame.
enum class goodbye_reason : std::uint8_t {
    normal = 0,        ///< the peer is leaving on purpose
    shutting_down = 1, ///< the peer's process is stopping
    replaced = 2,      ///< the server closes this session for a newer one
    kicked = 3         ///< the server's application ended this session (watcher::kick)
};

/// What can be wrong with received bytes. Each maps to a specific error.
enum class decode_status : std::uint8_t {
    ok = 0,
    unknown_frame_type,  ///< the type byte is not one of frame_type
    frame_too_large,     ///< the length exceeds the receiver's limit
    malformed_frame,     ///< the payload does not fit its type's layout
    bad_magic,           ///< HELLO does not start with "HB"
    unsupported_version  ///< HELLO's version is not 1
};

/// A complete frame; `payload` points into the decoder's input or buffer
/// and is valid only during the callback that receives it.
struct frame_view {
    frame_type type;
    const std::uint8_t* payload;
    std::size_t size;
};

namespace detail {
inline void put_u16(std::uint8_t* p, std::uint16_t v) noexcept
{
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
inline void put_u32(std::uint8_t* p, std::uint32_t v) noexcept
{
    p[0] = static_cast<std::uint8_t>(v >> 24);
    p[1] = static_cast<std::uint8_t>(v >> 16);
    p[2] = static_cast<std::uint8_t>(v >> 8);
    p[3] = static_cast<std::uint8_t>(v);
}
inline std::uint16_t get_u16(const std::uint8_t* p) noexcept
{
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline std::uint32_t get_u32(const std::uint8_t* p) noexcept
{
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16)
           | (std::uint32_t(p[2]) << 8) | std::uint32_t(p[3]);
}
} // namespace detail

/// Writes a frame header. `payload_size` must not exceed
/// max_encodable_payload.
inline void encode_header(std::uint8_t* out, frame_type t, std::size_t payload_size) noexcept
{
    out[0] = static_cast<std::uint8_t>(t);
    out[1] = static_cast<std::uint8_t>(payload_size >> 16);
    out[2] = static_cast<std::uint8_t>(payload_size >> 8);
    out[3] = static_cast<std::uint8_t>(payload_size);
}

/// A frame whose payload is one u32 (BEAT and ECHO of version 1, PROBE):
/// 8 bytes in all.
using beat_frame = std::array<std::uint8_t, header_size + 4>;

namespace detail {
inline beat_frame encode_sequence(frame_type t, std::uint32_t seq) noexcept
{
    beat_frame f{};
    encode_header(f.data(), t, 4);
    put_u32(f.data() + header_size, seq);
    return f;
}
} // namespace detail

inline beat_frame encode_beat(std::uint32_t seq) noexcept { return detail::encode_sequence(frame_type::beat, seq); }

inline beat_frame encode_echo(std::uint32_t seq) noexcept { return detail::encode_sequence(frame_type::echo, seq); }

/// PROBE (version 2, to a client whose HELLO offered hello_flags::probes):
/// `seq` counts the session's probes from 1. The client's answer is its
/// next BEAT; the seq is there for logs and captures, not for matching.
inline beat_frame encode_probe(std::uint32_t seq) noexcept { return detail::encode_sequence(frame_type::probe, seq); }

/// The fields of HELLO.
struct hello {
    std::uint8_t version = protocol_version;
    std::uint32_t interval_ms = 0; ///< 0: no preference, use the server's default
    std::string_view id;
    std::string_view credential;
    std::uint8_t flags = 0; ///< hello_flags: the revisions the client asks for
};

/// Appends a HELLO frame. Ids longer than max_id_size and credentials
/// longer than max_credential_size are the caller's error (checked by the
/// components before they get here).
inline void append_hello(std::vector<std::uint8_t>& out, const hello& h)
{
    const std::size_t payload = 2 + 1 + 1 + 4 + 1 + h.id.size() + 2 + h.credential.size();
    const std::size_t at = out.size();
    out.resize(at + header_size + payload);
    std::uint8_t* p = out.data() + at;
    encode_header(p, frame_type::hello, payload);
    p += header_size;
    *p++ = hello_magic[0];
    *p++ = hello_magic[1];
    *p++ = h.version;
    *p++ = h.flags;
    detail::put_u32(p, h.interval_ms);
    p += 4;
    *p++ = static_cast<std::uint8_t>(h.id.size());
    for (char c : h.id)
        *p++ = static_cast<std::uint8_t>(c);
    detail::put_u16(p, static_cast<std::uint16_t>(h.credential.size()));
    p += 2;
    for (char c : h.credential)
        *p++ = static_cast<std::uint8_t>(c);
}

/// How the server decides that a peer is gone (WELCOME version 2).
enum class detection_kind : std::uint8_t {
    fixed = 0,   ///< offline after misses * interval + grace of silence, exactly
    adaptive = 1 ///< the server learns from arrival times (phi-accrual): misses * interval is
                 ///< the client's own watchdog of the server, not the server's deadline
};

/// The fields of WELCOME: the terms the server holds the client to. A
/// version 1 WELCOME carries `misses` and `interval_ms` only.
struct welcome {
    std::uint8_t version = protocol_version;
    std::uint8_t misses = 3;
    std::uint32_t interval_ms = 1000;
    std::uint32_t grace_ms = 0;           ///< version 2: silence tolerated beyond misses * interval
    std::uint32_t max_frame = 65536;      ///< version 2: the largest payload the server accepts
    detection_kind detection = detection_kind::fixed; ///< version 2
};

inline constexpr std::size_t welcome_payload_size = 6;
inline constexpr std::size_t welcome_v2_payload_size = 15;

/// Writes a WELCOME frame of `w.version`'s layout at `out` (room for
/// header_size + welcome_v2_payload_size bytes); returns its size.
inline std::size_t encode_welcome(std::uint8_t* out, const welcome& w) noexcept
{
    const bool v2 = w.version >= protocol_version_2;
    encode_header(out, frame_type::welcome, v2 ? welcome_v2_payload_size : welcome_payload_size);
    out[4] = w.version;
    out[5] = w.misses;
    detail::put_u32(out + 6, w.interval_ms);
    if (!v2)
        return header_size + welcome_payload_size;
    detail::put_u32(out + 10, w.grace_ms);
    detail::put_u32(out + 14, w.max_frame);
    out[18] = static_cast<std::uint8_t>(w.detection);
    return header_size + welcome_v2_payload_size;
}

inline void append_welcome(std::vector<std::uint8_t>& out, const welcome& w)
{
    const std::size_t at = out.size();
    out.resize(at + header_size + welcome_v2_payload_size);
    out.resize(at + encode_welcome(out.data() + at, w));
}

/// Version 2's ECHO: the beat's sequence number and the server's stamp,
/// which the client returns in a later BEAT with how long it held it, so
/// the server measures the round trip without a frame of its own.
inline constexpr std::size_t echo_v2_payload_size = 8;
/// Version 2's BEAT with a stamp to return (a BEAT with none is 4 bytes).
inline constexpr std::size_t beat_v2_payload_size = 12;

/// The largest BEAT or ECHO frame (version 2's BEAT with its stamp).
using stamped_frame = std::array<std::uint8_t, header_size + beat_v2_payload_size>;

/// A stamp the client returns: the ECHO's `stamp`, and the microseconds
/// from reading that ECHO to queueing this BEAT (the beat leaves at once:
/// it goes ahead of any queued DATA).
struct returned_stamp {
    std::uint32_t stamp = 0;
    std::uint32_t held_us = 0;
};

/// Writes a BEAT of version 2 with `r` returned; returns its size (16).
inline std::size_t encode_beat_v2(std::uint8_t* out, std::uint32_t seq, const returned_stamp& r) noexcept
{
    encode_header(out, frame_type::beat, beat_v2_payload_size);
    detail::put_u32(out + header_size, seq);
    detail::put_u32(out + header_size + 4, r.stamp);
    detail::put_u32(out + header_size + 8, r.held_us);
    return header_size + beat_v2_payload_size;
}

/// Writes an ECHO of version 2; returns its size (12).
inline std::size_t encode_echo_v2(std::uint8_t* out, std::uint32_t seq, std::uint32_t stamp) noexcept
{
    encode_header(out, frame_type::echo, echo_v2_payload_size);
    detail::put_u32(out + header_size, seq);
    detail::put_u32(out + header_size + 4, stamp);
    return header_size + echo_v2_payload_size;
}

/// TERMS (version 2): the server changes the peer's terms mid-session.
/// `id` numbers them 1, 2, ... (WELCOME's terms are 0), wrapping.
struct terms {
    std::uint16_t id = 0;
    std::uint8_t misses = 3;
    std::uint32_t interval_ms = 1000;
    std::uint32_t grace_ms = 0;
};

inline constexpr std::size_t terms_payload_size = 11;

inline std::size_t encode_terms(std::uint8_t* out, const terms& t) noexcept
{
    encode_header(out, frame_type::terms, terms_payload_size);
    detail::put_u16(out + header_size, t.id);
    out[header_size + 2] = t.misses;
    detail::put_u32(out + header_size + 3, t.interval_ms);
    detail::put_u32(out + header_size + 7, t.grace_ms);
    return header_size + terms_payload_size;
}

/// TERMS_ACK (version 2): the client has adopted terms `id` (0: WELCOME's)
/// and accepts payloads up to `max_frame` bytes.
struct terms_ack {
    std::uint16_t id = 0;
    std::uint32_t max_frame = 65536;
};

inline constexpr std::size_t terms_ack_payload_size = 6;

inline std::size_t encode_terms_ack(std::uint8_t* out, const terms_ack& a) noexcept
{
    encode_header(out, frame_type::terms_ack, terms_ack_payload_size);
    detail::put_u16(out + header_size, a.id);
    detail::put_u32(out + header_size + 2, a.max_frame);
    return header_size + terms_ack_payload_size;
}

inline constexpr std::size_t retry_after_payload_size = 4;

/// RETRY_AFTER (version 2): the client should wait `ms` milliseconds
/// before it connects again; the ERROR that follows says why.
inline std::size_t encode_retry_after(std::uint8_t* out, std::uint32_t ms) noexcept
{
    encode_header(out, frame_type::retry_after, retry_after_payload_size);
    detail::put_u32(out + header_size, ms);
    return header_size + retry_after_payload_size;
}

/// The longest message an ERROR frame carries.
inline constexpr std::size_t max_error_message = 255;

/// Appends an ERROR frame; the message is truncated to max_error_message
/// bytes.
inline void append_error(std::vector<std::uint8_t>& out, error_code_value code,
                         std::string_view message = {})
{
    if (message.size() > max_error_message)
        message = message.substr(0, max_error_message);
    const std::size_t at = out.size();
    out.resize(at + header_size + 2 + message.size());
    std::uint8_t* p = out.data() + at;
    encode_header(p, frame_type::error, 2 + message.size());
    detail::put_u16(p + header_size, static_cast<std::uint16_t>(code));
    for (std::size_t i = 0; i < message.size(); ++i)
        p[header_size + 2 + i] = static_cast<std::uint8_t>(message[i]);
}

inline std::array<std::uint8_t, header_size + 1> encode_goodbye(goodbye_reason r) noexcept
{
    std::array<std::uint8_t, header_size + 1> f{};
    encode_header(f.data(), frame_type::goodbye, 1);
    f[header_size] = static_cast<std::uint8_t>(r);
    return f;
}

/// The smallest and largest payload each frame type may have in any
/// version; checked as soon as a header arrives, so a BEAT claiming
/// megabytes is refused before a byte of it is buffered. The sessions then
/// check the exact size their version sets (a 12-byte BEAT is an error in
/// a version 1 session).
struct payload_bounds {
    std::size_t min;
    std::size_t max;
};

constexpr payload_bounds bounds_of(frame_type t) noexcept
{
    switch (t) {
    case frame_type::hello: return {2 + 1 + 1 + 4 + 1 + 2, 2 + 1 + 1 + 4 + 1 + max_id_size + 2 + max_credential_size};
    case frame_type::welcome: return {welcome_payload_size, welcome_v2_payload_size};
    case frame_type::error: return {2, 2 + max_error_message};
    case frame_type::beat: return {4, beat_v2_payload_size};
    case frame_type::echo: return {4, echo_v2_payload_size};
    case frame_type::data: return {0, max_encodable_payload};
    case frame_type::goodbye: return {1, 1};
    case frame_type::terms: return {terms_payload_size, terms_payload_size};
    case frame_type::terms_ack: return {terms_ack_payload_size, terms_ack_payload_size};
    case frame_type::retry_after: return {retry_after_payload_size, retry_after_payload_size};
    case frame_type::probe: return {4, 4};
    }
    return {0, 0};
}

// ---- payload parsers: each checks the exact layout -----------------------

/// Parses a HELLO payload. Checks the magic first, then the version (a
/// future version may lay the rest out differently), then the layout.
inline decode_status parse_hello(const frame_view& f, hello& out) noexcept
{
    const std::uint8_t* p = f.payload;
    const std::size_t n = f.size;
    if (n < 3)
        return decode_status::malformed_frame;
    if (p[0] != hello_magic[0] || p[1] != hello_magic[1])
        return decode_status::bad_magic;
    if (p[2] != protocol_version)
        return decode_status::unsupported_version;
    if (n < bounds_of(frame_type::hello).min)
        return decode_status::malformed_frame;
    out.version = p[2];
    out.flags = p[3];
    out.interval_ms = detail::get_u32(p + 4);
    const std::size_t id_len = p[8];
    if (n < 9 + id_len + 2)
        return decode_status::malformed_frame;
    out.id = std::string_view(reinterpret_cast<const char*>(p + 9), id_len);
    const std::size_t cred_len = detail::get_u16(p + 9 + id_len);
    if (n != 9 + id_len + 2 + cred_len || cred_len > max_credential_size)
        return decode_status::malformed_frame;
    out.credential = std::string_view(reinterpret_cast<const char*>(p + 11 + id_len), cred_len);
    return decode_status::ok;
}

/// Parses WELCOME: version 1 in 6 bytes, version 2 in 15.
inline decode_status parse_welcome(const frame_view& f, welcome& out) noexcept
{
    if (f.size < 1)
        return decode_status::malformed_frame;
    out.version = f.payload[0];
    if (out.version != protocol_version && out.version != protocol_version_2)
        return decode_status::unsupported_version;
    const bool v2 = out.version == protocol_version_2;
    if (f.size != (v2 ? welcome_v2_payload_size : welcome_payload_size))
        return decode_status::malformed_frame;
    out.misses = f.payload[1];
    out.interval_ms = detail::get_u32(f.payload + 2);
    if (out.misses == 0 || out.interval_ms == 0)
        return decode_status::malformed_frame;
    if (v2) {
        out.grace_ms = detail::get_u32(f.payload + 6);
        out.max_frame = detail::get_u32(f.payload + 10);
        const std::uint8_t d = f.payload[14];
        if (d > static_cast<std::uint8_t>(detection_kind::adaptive))
            return decode_status::malformed_frame;
        out.detection = static_cast<detection_kind>(d);
    }
    return decode_status::ok;
}

inline decode_status parse_terms(const frame_view& f, terms& out) noexcept
{
    if (f.size != terms_payload_size)
        return decode_status::malformed_frame;
    out.id = detail::get_u16(f.payload);
    out.misses = f.payload[2];
    out.interval_ms = detail::get_u32(f.payload + 3);
    out.grace_ms = detail::get_u32(f.payload + 7);
    if (out.misses == 0 || out.interval_ms == 0)
        return decode_status::malformed_frame;
    return decode_status::ok;
}

inline decode_status parse_terms_ack(const frame_view& f, terms_ack& out) noexcept
{
    if (f.size != terms_ack_payload_size)
        return decode_status::malformed_frame;
    out.id = detail::get_u16(f.payload);
    out.max_frame = detail::get_u32(f.payload + 2);
    return decode_status::ok;
}

inline decode_status parse_retry_after(const frame_view& f, std::uint32_t& ms) noexcept
{
    if (f.size != retry_after_payload_size)
        return decode_status::malformed_frame;
    ms = detail::get_u32(f.payload);
    return decode_status::ok;
}

/// Parses a BEAT of either version: 4 bytes (no stamp to return) or, in
/// version 2, 12. `stamped` says which.
inline decode_status parse_beat(const frame_view& f, bool v2, std::uint32_t& seq, returned_stamp& r,
                                bool& stamped) noexcept
{
    stamped = false;
    if (f.size == 4) {
        seq = detail::get_u32(f.payload);
        return decode_status::ok;
    }
    if (!v2 || f.size != beat_v2_payload_size)
        return decode_status::malformed_frame;
    seq = detail::get_u32(f.payload);
    r.stamp = detail::get_u32(f.payload + 4);
    r.held_us = detail::get_u32(f.payload + 8);
    stamped = true;
    return decode_status::ok;
}

/// Parses an ECHO: 4 bytes in version 1, 8 (with the server's stamp) in
/// version 2.
inline decode_status parse_echo(const frame_view& f, bool v2, std::uint32_t& seq, std::uint32_t& stamp) noexcept
{
    if (f.size != (v2 ? echo_v2_payload_size : 4))
        return decode_status::malformed_frame;
    seq = detail::get_u32(f.payload);
    stamp = v2 ? detail::get_u32(f.payload + 4) : 0;
    return decode_status::ok;
}

/// BEAT and ECHO of version 1, and PROBE, carry one 32-bit sequence number.
inline decode_status parse_sequence(const frame_view& f, std::uint32_t& seq) noexcept
{
    if (f.size != 4)
        return decode_status::malformed_frame;
    seq = detail::get_u32(f.payload);
    return decode_status::ok;
}

/// Parses a PROBE: the server's probe counter.
inline decode_status parse_probe(const frame_view& f, std::uint32_t& seq) noexcept { return parse_sequence(f, seq); }

struct error_frame {
    std::uint16_t code = 0;
    std::string_view message;
};

inline decode_status parse_error(const frame_view& f, error_frame& out) noexcept
{
    if (f.size < 2 || f.size > 2 + max_error_message)
        return decode_status::malformed_frame;
    out.code = detail::get_u16(f.payload);
    out.message = std::string_view(reinterpret_cast<const char*>(f.payload + 2), f.size - 2);
    return decode_status::ok;
}

inline decode_status parse_goodbye(const frame_view& f, goodbye_reason& out) noexcept
{
    if (f.size != 1)
        return decode_status::malformed_frame;
    out = static_cast<goodbye_reason>(f.payload[0]);
    return decode_status::ok;
}

} // namespace heartbeat::wire

#endif
