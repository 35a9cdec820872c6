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

    /// Consumes `size` bytes and calls `on_frame(const frame_view&)` for
    /// every frame they complete, in order.
    ///
    /// @returns decode_status::ok, or the first error (frames before the
    /// error have been delivered; the rest of the input is ignored).
    template <class OnFrame>
    decode_status feed(const void* data, std::size_t size, OnFrame&& on_frame)
    {
        if (status_ != decode_status::ok)
            return status_;
        const auto* p = static_cast<const std::uint8_t*>(data);
        const std::uint8_t* const end = p + size;
        while (p != end) {
            if (header_have_ < header_size) {
                // Fast path: a whole frame in the input, nothing buffered.
                if (header_have_ == 0 && static_cast<std::size_t>(end - p) >= header_size) {
                    if (!accept_header(p))
                        return status_;
                    const std::size_t avail = static_cast<std::size_t>(end - p) - header_size;
                    if (avail >= payload_size_) {
                        on_frame(frame_view{type_, p + header_size, payload_size_});
                        p += header_size + payload_size_;
                        continue;
                    }
                    header_have_ = header_size;
                    p += header_size;
                    continue;
                }
                const std::size_t take = std::min<std::size_t>(header_size - header_have_, end - p);
                std::memcpy(header_ + header_have_, p, take);
                header_have_ += take;
                p += take;
                if (header_have_ < header_size)
                    break;
                if (!accept_header(header_))
                    return status_;
                if (payload_size_ == 0) {
                    deliver_buffered(on_frame);
                    continue;
                }
            }
            const std::size_t want = payload_size_ - buffer_.size();
            const std::size_t take = std::min<std::size_t>(want, end - p);
            buffer_.insert(buffer_.end(), p, p + take);
            p += take;
            if (buffer_.size() == payload_size_)
                deliver_buffered(on_frame);
        }
        return decode_status::ok;
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
        status_ = decode_status::ok;
    }

private:
    bool accept_header(const std::uint8_t* h) noexcept
    {
        if (!is_known(h[0])) {
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

    template <class OnFrame>
    void deliver_buffered(OnFrame& on_frame)
    {
        header_have_ = 0;
        on_frame(frame_view{type_, buffer_.data(), buffer_.size()});
        buffer_.clear();
    }

    std::size_t max_payload_;
    std::uint8_t header_[header_size] = {};
    std::size_t header_have_ = 0;
    frame_type type_ = frame_type::data;
    std::size_t payload_size_ = 0;
    std::vector<std::uint8_t> buffer_;
    decode_status status_ = decode_status::ok;
};

} // namespace heartbeat::wire

#endif
