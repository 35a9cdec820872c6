// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_SESSION_DETAIL_INPUT_HPP
#define HEARTBEAT_SESSION_DETAIL_INPUT_HPP

#include <cstddef>
#include <cstdint>

namespace heartbeat::detail {

/// What a session machine was fed and has not consumed yet, and whether it
/// has asked its driver for more: the same for both machines. The bytes
/// stay in the driver's buffer; the machine asks to read again only once
/// it has consumed them, so the driver never overwrites them early.
class session_input {
public:
    /// Bytes read; `end_of_stream` if the read also reported EOF or an
    /// error.
    void fed(const std::uint8_t* p, std::size_t n, bool end_of_stream) noexcept
    {
        reading_ = false;
        eof_ = end_of_stream;
        fed_ = true;
        p_ = p;
        end_ = p + n;
    }

    const std::uint8_t*& cursor() noexcept { return p_; }
    const std::uint8_t* end() const noexcept { return end_; }
    bool has_bytes() const noexcept { return p_ != end_; }
    /// Throws away what is left (a failed or lingering session).
    void discard() noexcept { p_ = end_; }
    void forget() noexcept
    {
        discard();
        fed_ = false;
        eof_ = false;
    }
    /// The driver moved the bytes of the last feed from `from` to `to`.
    void moved(const std::uint8_t* from, const std::uint8_t* to) noexcept
    {
        p_ = to + (p_ - from);
        end_ = to + (end_ - from);
    }

    /// True once, after the last byte of a feed was consumed.
    bool take_end_of_feed() noexcept { return take(fed_); }
    /// True once, if the feed ended with EOF.
    bool take_eof() noexcept { return take(eof_); }

    /// True if the driver should start a read now (at most one at a time).
    bool take_read_request() noexcept
    {
        if (reading_)
            return false;
        reading_ = true;
        return true;
    }

private:
    static bool take(bool& flag) noexcept
    {
        const bool was = flag;
        flag = false;
        return was;
    }

    const std::uint8_t* p_ = nullptr;
    const std::uint8_t* end_ = nullptr;
    bool reading_ = false;
    bool eof_ = false;
    bool fed_ = false;
};

} // namespace heartbeat::detail

#endif
