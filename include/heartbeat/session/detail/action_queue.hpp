// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_SESSION_DETAIL_ACTION_QUEUE_HPP
#define HEARTBEAT_SESSION_DETAIL_ACTION_QUEUE_HPP

#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>

namespace heartbeat::detail {

/// The actions a session machine has decided and its driver has not yet
/// taken: a fixed ring, so a step never allocates. One input decides at
/// most a handful of actions (the longest is a refusal: release, arm the
/// linger deadline, write the last frame, close), and the driver drains
/// the ring before the machine reads another frame.
template <class Action, std::size_t Capacity = 8>
class action_queue {
public:
    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }

    void push(const Action& a) noexcept
    {
        assert(size_ < Capacity && "heartbeat: a session step decided more actions than it may");
        items_[(head_ + size_) % Capacity] = a;
        ++size_;
        static_assert(Capacity < 256, "indices are bytes");
    }

    Action pop() noexcept
    {
        Action a = items_[head_];
        head_ = static_cast<std::uint8_t>((head_ + 1) % Capacity);
        --size_;
        return a;
    }

    void clear() noexcept { head_ = size_ = 0; }

private:
    std::array<Action, Capacity> items_{};
    std::uint8_t head_ = 0;
    std::uint8_t size_ = 0;
};

} // namespace heartbeat::detail

#endif
