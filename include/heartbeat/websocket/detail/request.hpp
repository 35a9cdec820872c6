// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_WEBSOCKET_DETAIL_REQUEST_HPP
#define HEARTBEAT_WEBSOCKET_DETAIL_REQUEST_HPP

// What the component reads from an upgrade request: a query parameter, the
// offered subprotocols, the origin. Plain string work, tested on its own.

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace heartbeat::websocket::detail {

inline int hex_value(char c) noexcept
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/// Percent-decodes a query component ('+' is a space there); nothing if an
/// escape is malformed.
inline std::optional<std::string> percent_decode(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '+') {
            out.push_back(' ');
        }
        else if (c == '%') {
            if (i + 2 >= s.size())
                return std::nullopt;
            const int hi = hex_value(s[i + 1]);
            const int lo = hex_value(s[i + 2]);
            if (hi < 0 || lo < 0)
                return std::nullopt;
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        }
        else {
            out.push_back(c);
        }
    }
    return out;
}

/// The value of query parameter `name` in a request target
/// ("/chat?id=alice&token=x"), decoded; nothing if absent or malformed.
inline std::optional<std::string> query_parameter(std::string_view target, std::string_view name)
{
    const auto q = target.find('?');
    if (q == std::string_view::npos)
        return std::nullopt;
    std::string_view rest = target.substr(q + 1);
    if (const auto hash = rest.find('#'); hash != std::string_view::npos)
        rest = rest.substr(0, hash);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        const auto eq = pair.find('=');
        const std::string_view key = pair.substr(0, eq);
        if (key == name)
            return percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    }
    return std::nullopt;
}

inline std::string_view trim(std::string_view s) noexcept
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

/// True if the comma-separated Sec-WebSocket-Protocol value offers `wanted`.
inline bool offers_subprotocol(std::string_view header, std::string_view wanted) noexcept
{
    while (!header.empty()) {
        const auto comma = header.find(',');
        if (trim(header.substr(0, comma)) == wanted)
            return true;
        if (comma == std::string_view::npos)
            break;
        header.remove_prefix(comma + 1);
    }
    return false;
}

/// The Origin check: an empty allow-list admits any origin.
inline bool origin_allowed(const std::vector<std::string>& allowed, std::optional<std::string_view> origin,
                           bool allow_missing) noexcept
{
    if (!origin)
        return allow_missing || allowed.empty();
    if (allowed.empty())
        return true;
    return std::any_of(allowed.begin(), allowed.end(), [&](const std::string& a) { return a == *origin; });
}

/// True if `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no
/// surrogates, nothing above U+10FFFF), as a browser demands of a text
/// message: it fails the whole connection (1007) on one that is not.
inline bool is_utf8(std::string_view s) noexcept
{
    std::size_t i = 0;
    const std::size_t n = s.size();
    while (i < n) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        unsigned char lo = 0x80, hi = 0xBF; // the second byte's range
        if (c >= 0xC2 && c <= 0xDF)
            len = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0)
                lo = 0xA0; // no overlong forms
            if (c == 0xED)
                hi = 0x9F; // no surrogates
        }
        else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0)
                lo = 0x90;
            if (c == 0xF4)
                hi = 0x8F; // at most U+10FFFF
        }
        else
            return false;
        if (n - i < len)
            return false;
        const auto second = static_cast<unsigned char>(s[i + 1]);
        if (second < lo || second > hi)
            return false;
        for (std::size_t k = 2; k < len; ++k) {
            const auto b = static_cast<unsigned char>(s[i + k]);
            if (b < 0x80 || b > 0xBF)
                return false;
        }
        i += len;
    }
    return true;
}

} // namespace heartbeat::websocket::detail

#endif
