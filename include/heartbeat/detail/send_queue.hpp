// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_DETAIL_SEND_QUEUE_HPP
#define HEARTBEAT_DETAIL_SEND_QUEUE_HPP

#include <heartbeat/core/detail/fifo.hpp>
#include <heartbeat/detail/config.hpp>
#include <heartbeat/detail/erased_handler.hpp>

#include <heartbeat/wire/frame.hpp>

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

namespace heartbeat::detail {

using shared_bytes = std::shared_ptr<const std::vector<std::uint8_t>>;

/// The frames waiting to be written on one connection.
///
/// Control frames (BEAT, ECHO) jump the queue: they go out in the next
/// write, ahead of application DATA that is still waiting, so a backlog of
/// data never delays a beat by more than the write already in flight.
/// Frames are gathered into one write of up to `max_batch` buffers.
class send_queue {
public:
    static constexpr std::size_t max_batch = 16;

    /// The largest control frame push_urgent takes: version 2's BEAT (16
    /// bytes); its ECHO is 12, TERMS 15, TERMS_ACK 10.
    static constexpr std::size_t max_urgent = 16;

    /// Queues a small control frame (at most max_urgent bytes) ahead of DATA.
    void push_urgent(const std::uint8_t* p, std::size_t n)
    {
        assert(n <= max_urgent && "heartbeat: an urgent frame larger than send_queue::max_urgent");
        item it;
        std::memcpy(it.small.data(), p, n);
        it.small_size = static_cast<std::uint8_t>(n);
        bytes_ += n;
        urgent_.push_back(std::move(it));
    }

    /// Queues a frame in order. `done` (optional) completes when it has
    /// been written or has failed.
    void push(shared_bytes frame, erased_handler<error_code> done = {})
    {
        item it;
        bytes_ += frame->size();
        it.big = std::move(frame);
        it.done = std::move(done);
        normal_.push_back(std::move(it));
    }

    bool empty() const noexcept { return urgent_.empty() && normal_.empty(); }
    bool writing() const noexcept { return in_flight_urgent_ + in_flight_normal_ != 0; }

    /// Bytes queued, including those being written.
    std::size_t bytes() const noexcept { return bytes_; }

    /// Buffers for the next write: urgent frames first. Call only when not
    /// writing() and not empty().
    const std::vector<net::const_buffer>& prepare()
    {
        buffers_.clear();
        // Urgent frames are copied out into one staging buffer, which only
        // changes here (never while a write is in flight): an urgent frame
        // queued meanwhile may move the items, and a write that the socket
        // could not take at once still reads its buffers later.
        staged_.clear();
        for (auto& it : urgent_) {
            if (in_flight_urgent_ == max_batch)
                break;
            staged_.insert(staged_.end(), it.small.begin(), it.small.begin() + it.small_size);
            ++in_flight_urgent_;
        }
        if (!staged_.empty())
            buffers_.push_back(net::buffer(staged_));
        for (auto& it : normal_) {
            if (buffers_.size() == max_batch)
                break;
            buffers_.push_back(it.buffer());
            ++in_flight_normal_;
        }
        return buffers_;
    }

    /// The write of the prepared buffers finished with `ec`: drops those
    /// frames and completes their handlers.
    void consume(error_code ec)
    {
        for (; in_flight_urgent_ != 0; --in_flight_urgent_)
            pop(urgent_, ec);
        for (; in_flight_normal_ != 0; --in_flight_normal_)
            pop(normal_, ec);
    }

    /// Drops everything not in flight, completing handlers with `ec`.
    void fail_pending(error_code ec)
    {
        while (urgent_.size() > in_flight_urgent_)
            pop_back(urgent_, ec);
        while (normal_.size() > in_flight_normal_)
            pop_back(normal_, ec);
    }

private:
    struct item {
        std::array<std::uint8_t, max_urgent> small{};
        std::uint8_t small_size = 0;
        shared_bytes big;
        erased_handler<error_code> done;

        net::const_buffer buffer() const
        {
            return big ? net::buffer(*big) : net::buffer(small.data(), small_size);
        }
        std::size_t size() const { return big ? big->size() : small_size; }
    };

    void pop(fifo<item>& q, error_code ec)
    {
        bytes_ -= q.front().size();
        auto done = std::move(q.front().done);
        q.pop_front();
        done.complete(ec);
    }

    void pop_back(fifo<item>& q, error_code ec)
    {
        bytes_ -= q.back().size();
        auto done = std::move(q.back().done);
        q.pop_back();
        done.complete(ec);
    }

    fifo<item> urgent_;
    fifo<item> normal_;
    std::vector<net::const_buffer> buffers_;
    std::vector<std::uint8_t> staged_; // the urgent frames of the write in flight
    std::size_t in_flight_urgent_ = 0;
    std::size_t in_flight_normal_ = 0;
    std::size_t bytes_ = 0;
};

/// The one DATA frame builder: the frame for `payload`, or nothing if the
/// payload exceeds `limit` (the peer's receive limit, itself capped by what
/// a header can describe). Both sides refuse an oversized message locally
/// rather than let the peer end the session over it.
inline shared_bytes make_data_frame(std::string_view payload, std::size_t limit)
{
    if (payload.size() > std::min(limit, wire::max_encodable_payload))
        return nullptr;
    auto v = std::make_shared<std::vector<std::uint8_t>>(wire::header_size + payload.size());
    wire::encode_header(v->data(), wire::frame_type::data, payload.size());
    std::copy(payload.begin(), payload.end(), v->begin() + static_cast<std::ptrdiff_t>(wire::header_size));
    return v;
}

} // namespace heartbeat::detail

#endif
