// Wire frames as byte strings, for tests that play one side of a session
// by hand.
#ifndef HEARTBEAT_TESTS_UNIT_FRAMES_HPP
#define HEARTBEAT_TESTS_UNIT_FRAMES_HPP

#include <heartbeat/wire/frame.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace heartbeat_test::frames {
namespace wire = heartbeat::wire;

inline std::string bytes_of(const std::vector<std::uint8_t>& v) { return {v.begin(), v.end()}; }
template <std::size_t N>
std::string bytes_of(const std::array<std::uint8_t, N>& a)
{
    return {a.begin(), a.end()};
}

inline std::string hello(std::string_view id, std::uint32_t interval_ms = 0, std::string_view credential = {})
{
    std::vector<std::uint8_t> v;
    wire::append_hello(v, {wire::protocol_version, interval_ms, id, credential});
    return bytes_of(v);
}
/// A HELLO asking for version 2 (flags bit 0).
inline std::string hello_v2(std::string_view id, std::uint32_t interval_ms = 0, std::string_view credential = {})
{
    std::vector<std::uint8_t> v;
    wire::append_hello(v, {wire::protocol_version, interval_ms, id, credential, wire::hello_flags::v2});
    return bytes_of(v);
}
/// A HELLO with the flags given (hello_flags: v2, probes).
inline std::string hello_flagged(std::uint8_t flags, std::string_view id, std::uint32_t interval_ms = 0)
{
    std::vector<std::uint8_t> v;
    wire::append_hello(v, {wire::protocol_version, interval_ms, id, {}, flags});
    return bytes_of(v);
}
/// A HELLO asking for version 2 and offering to answer PROBEs.
inline std::string hello_probes(std::string_view id, std::uint32_t interval_ms = 0)
{
    return hello_flagged(wire::hello_flags::v2 | wire::hello_flags::probes, id, interval_ms);
}
inline std::string welcome(std::uint8_t misses, std::uint32_t interval_ms)
{
    std::vector<std::uint8_t> v;
    wire::append_welcome(v, {wire::protocol_version, misses, interval_ms});
    return bytes_of(v);
}
/// Version 2's WELCOME, with the server's grace, limit and detection.
inline std::string welcome_v2(std::uint8_t misses, std::uint32_t interval_ms, std::uint32_t grace_ms = 0,
                              std::uint32_t max_frame = 65'536,
                              wire::detection_kind detection = wire::detection_kind::fixed)
{
    std::vector<std::uint8_t> v;
    wire::append_welcome(v, {wire::protocol_version_2, misses, interval_ms, grace_ms, max_frame, detection});
    return bytes_of(v);
}
inline std::string beat(std::uint32_t seq) { return bytes_of(wire::encode_beat(seq)); }
/// Version 2's BEAT returning a stamp, and its ECHO.
inline std::string beat_v2(std::uint32_t seq, std::uint32_t stamp, std::uint32_t held_us)
{
    wire::stamped_frame f{};
    return {f.begin(), f.begin() + static_cast<std::ptrdiff_t>(wire::encode_beat_v2(f.data(), seq, {stamp, held_us}))};
}
inline std::string echo_v2(std::uint32_t seq, std::uint32_t stamp)
{
    wire::stamped_frame f{};
    return {f.begin(), f.begin() + static_cast<std::ptrdiff_t>(wire::encode_echo_v2(f.data(), seq, stamp))};
}
inline std::string terms(std::uint16_t id, std::uint8_t misses, std::uint32_t interval_ms, std::uint32_t grace_ms = 0)
{
    std::array<std::uint8_t, wire::header_size + wire::terms_payload_size> f{};
    wire::encode_terms(f.data(), {id, misses, interval_ms, grace_ms});
    return bytes_of(f);
}
inline std::string terms_ack(std::uint16_t id, std::uint32_t max_frame)
{
    std::array<std::uint8_t, wire::header_size + wire::terms_ack_payload_size> f{};
    wire::encode_terms_ack(f.data(), {id, max_frame});
    return bytes_of(f);
}
inline std::string retry_after(std::uint32_t ms)
{
    std::array<std::uint8_t, wire::header_size + wire::retry_after_payload_size> f{};
    wire::encode_retry_after(f.data(), ms);
    return bytes_of(f);
}
inline std::string echo(std::uint32_t seq) { return bytes_of(wire::encode_echo(seq)); }
inline std::string probe(std::uint32_t seq) { return bytes_of(wire::encode_probe(seq)); }
inline std::string goodbye(wire::goodbye_reason r) { return bytes_of(wire::encode_goodbye(r)); }
inline std::string error_frame(wire::error_code_value code, std::string_view message)
{
    std::vector<std::uint8_t> v;
    wire::append_error(v, code, message);
    return bytes_of(v);
}
/// A frame header alone, claiming `size` bytes of payload.
inline std::string header(wire::frame_type t, std::size_t size)
{
    std::string h(wire::header_size, '\0');
    wire::encode_header(reinterpret_cast<std::uint8_t*>(h.data()), t, size);
    return h;
}
inline std::string data_frame(std::string_view payload)
{
    return header(wire::frame_type::data, payload.size()) + std::string(payload);
}

} // namespace heartbeat_test::frames

#endif
