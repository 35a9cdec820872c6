// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_DETAIL_SEND_QUEUE_HPP
#define HEARTBEAT_DETAIL_SEND_QUEUE_HPP

#include <heartbeat/detail/config.hpp>
#include <heartbeat/detail/erased_handler.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <cstddef>
#include <memory>
#include <vector>

namespace heartbeat::detail {

using shared_bytes = std::shared_ptr<const std::vector<std::uint8_t>>;

/// A FIFO on a vector: allocates nothing until the first push (std::deque
/// allocates about 600 bytes up front, which thousands of idle sessions
/// pay for nothing) and keeps its capacity once it has been used.
template <class T>
class fifo {
public:
    bool empty() const noexcept { return head_ == items_.size(); }
    std::size_t size() const noexcept { return items_.size() - head_; }
    T& front() noexcept { return items_[head_]; }
    T& back() noexcept { return items_.back(); }
    auto begin() noexcept { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
    auto end() noexcept { return items_.end(); }

    void push_back(T v) { items_.push_back(std::move(v)); }

    void pop_front()
    {
        items_[head_] = T{}; // release what it holds now
        if (++head_ == items_.size()) {
            items_.clear();
            head_ = 0;
        }
        else if (head_ >= 32 && 2 * head_ >= items_.size()) {
            items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
            head_ = 0;
        }
    }

    void pop_back()
    {
        items_.pop_back();
        if (head_ == items_.size()) {
            items_.clear();
            head_ = 0;
        }
    }

private:
    std::vector<T> items_;
    std::size_t head_ = 0;
};

/// The frames waiting to be written on one connection.
///
/// Control frames (BEAT, ECHO) jump the queue: they go out in the next
/// write, ahead of application DATA that is still waiting, so a backlog of
/// data never delays a beat by more than the write already in flight.
/// Frames are gathered into one write of up to `max_batch` buffers.
class send_queue {
public:
    static constexpr std::size_t max_batch = 16;

    /// Queues a small control frame (at most 8 bytes) ahead of DATA.
    void push_urgent(const std::uint8_t* p, std::size_t n)
    {
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
        for (auto& it : urgent_) {
            if (buffers_.size() == max_batch)
                break;
            buffers_.push_back(it.buffer());
            ++in_flight_urgent_;
        }
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
        std::array<std::uint8_t, 8> small{};
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
    std::size_t in_flight_urgent_ = 0;
    std::size_t in_flight_normal_ = 0;
    std::size_t bytes_ = 0;
};

} // namespace heartbeat::detail

#endif
