// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_CORE_DETAIL_FIFO_HPP
#define HEARTBEAT_CORE_DETAIL_FIFO_HPP

#include <cstddef>
#include <utility>
#include <vector>

namespace heartbeat::detail {

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
    auto begin() const noexcept { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
    auto end() const noexcept { return items_.end(); }
    void clear() noexcept
    {
        items_.clear();
        head_ = 0;
    }

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

} // namespace heartbeat::detail

#endif
