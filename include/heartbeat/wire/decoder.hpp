// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_WIRE_DECODER_HPP
#define HEARTBEAT_WIRE_DECODER_HPP

#include <heartbeat/wire/frame.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace heartbeat::wire {

/// Splits a byte stream into frames, whatever the chunking.
///
/// Bytes go in with `feed`; each complete frame comes out through a
/// callback. A frame that lies whole inside the fed chunk is handed over in
/// place (no copy); one split across chunks is assembled in a buffer that
/// never grows beyond the payload limit. Headers are checked the moment
/// they are complete: an unknown type, or a length beyond the limit or
/// beyond what the type allows, fails at once without buffering the
/// payload. After an error the decoder stays failed.
///
/// Only the framing is checked here; the payload of each type is checked by
/// the `parse_*` functions in frame.hpp.
class decoder {
public:
    explicit decoder(std::size_t max_payload = default_max_payload) noexcept
        : max_payload_(std::min(max_payload, max_encodable_payload))
    {
    }

    /// Frame types above `t` count as unknown: a session that runs
    /// version 1 knows types 1 to last_v1_frame_type only.
    void limit_types(std::uint8_t t) noexcept { last_type_ = t; }

    /// What `next` found.
    enum class step : std::uint8_t {
        frame,     ///< a complete frame is in `out`
        need_more, ///< all input was consumed without completing a frame
        failed     ///< the input is bad: see status()
    };

    /// Decodes at most one frame from `[p, end)`, advancing `p` past the
    /// bytes it consumed. A frame lying whole in the input is handed over
    /// in place; `out.payload` stays valid until the next call (or until
    /// the input is released, for in-place frames). Pull-style, so a
    /// caller (a session machine) can stop between frames and resume.
    step next(const std::uint8_t*& p, const std::uint8_t* end, frame_view& out)
    {
        if (status_ != decode_status::ok)
            return step::failed;
        if (delivered_buffered_) {
            buffer_.clear();
            delivered_buffered_ = false;
        }
        while (p != end) {
            const auto avail = static_cast<std::size_t>(end - p);
            if (header_have_ < header_size) {
                // Fast path: a whole frame in the input, nothing buffered.
                if (header_have_ == 0 && avail >= header_size) {
                    if (!accept_header(p))
                        return step::failed;
                    if (avail - header_size >= payload_size_) {
                        out = frame_view{type_, p + header_size, payload_size_};
                        p += header_size + payload_size_;
                        return step::frame;
                    }
                    header_have_ = header_size;
                    p += header_size;
                    continue;
                }
                const std::size_t take = std::min(header_size - header_have_, avail);
                std::memcpy(header_ + header_have_, p, take);
                header_have_ += take;
                p += take;
                if (header_have_ < header_size)
                    break;
                if (!accept_header(header_))
                    return step::failed;
                if (payload_size_ == 0)
                    return take_buffered(out);
                continue;
            }
            const std::size_t take = std::min(payload_size_ - buffer_.size(), avail);
            buffer_.insert(buffer_.end(), p, p + take);
            p += take;
            if (buffer_.size() == payload_size_)
                return take_buffered(out);
        }
        return step::need_more;
    }

    /// Consumes `size` bytes and calls `on_frame(const frame_view&)` for
    /// every frame they complete, in order.
    ///
    /// @returns decode_status::ok, or the first error (frames before the
    /// error have been delivered; the rest of the input is ignored).
    template <class OnFrame>
    decode_status feed(const void* data, std::size_t size, OnFrame&& on_frame)
    {
        const auto* p = static_cast<const std::uint8_t*>(data);
        const std::uint8_t* const end = p + size;
        frame_view f{};
        for (;;) {
            switch (next(p, end, f)) {
            case step::frame: on_frame(static_cast<const frame_view&>(f)); break;
            case step::need_more: return decode_status::ok;
            case step::failed: return status_;
            }
        }
    }

    /// True if part of a frame is buffered (the stream stopped mid-frame).
    bool mid_frame() const noexcept { return header_have_ != 0; }

    /// The error the decoder failed with, or ok.
    decode_status status() const noexcept { return status_; }

    std::size_t max_payload() const noexcept { return max_payload_; }

    /// Forgets any partial frame and any error.
    void reset() noexcept
    {
        header_have_ = 0;
        buffer_.clear();
        delivered_buffered_ = false;
        status_ = decode_status::ok;
    }

private:
    bool accept_header(const std::uint8_t* h) noexcept
    {
        if (!is_known(h[0]) || h[0] > last_type_) {
            status_ = decode_status::unknown_frame_type;
            return false;
        }
        type_ = static_cast<frame_type>(h[0]);
        payload_size_ = (std::size_t(h[1]) << 16) | (std::size_t(h[2]) << 8) | h[3];
        const payload_bounds b = bounds_of(type_);
        if (payload_size_ > max_payload_) {
            status_ = decode_status::frame_too_large;
            return false;
        }
        if (payload_size_ < b.min || payload_size_ > b.max) {
            status_ = decode_status::malformed_frame;
            return false;
        }
        return true;
    }

    step take_buffered(frame_view& out) noexcept
    {
        header_have_ = 0;
        delivered_buffered_ = true; // cleared by the next call
        out = frame_view{type_, buffer_.data(), buffer_.size()};
        return step::frame;
    }

    // Largest first, so thousands of idle sessions pay no padding.
    std::vector<std::uint8_t> buffer_;
    std::size_t max_payload_;
    std::uint8_t last_type_ = 0xFF;
    std::size_t header_have_ = 0;
    std::size_t payload_size_ = 0;
    std::uint8_t header_[header_size] = {};
    frame_type type_ = frame_type::data;
    bool delivered_buffered_ = false;
    decode_status status_ = decode_status::ok;
};

} // namespace heartbeat::wire

#endif
