// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_DETAIL_OUTBOX_HPP
#define HEARTBEAT_DETAIL_OUTBOX_HPP

#include <heartbeat/detail/config.hpp>
#include <heartbeat/detail/send_queue.hpp>
#include <heartbeat/detail/stream.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace heartbeat::detail {

/// A session's write side, the same for the watcher and the pulse: the send
/// queue, one write in flight at a time, and the linger of a closing
/// session (drop what waits, write the last frame, then the driver ends
/// the sending direction with close_send(): a TLS close_notify, or a
/// half-close, so no unread byte turns the close into a reset that could
/// destroy that frame).
class outbox {
public:
    /// What a completed write leaves to do.
    enum class outcome : std::uint8_t {
        failed,     ///< the transport failed
        idle,       ///< nothing waits
        more,         ///< more frames wait: flush again
        last_frame_out ///< the last frame is out: end the sending direction (close_send)
    };

    send_queue& queue() noexcept { return q_; }
    std::size_t bytes() const noexcept { return q_.bytes(); }

    /// Queues a frame the session machine wrote (copied: the machine reuses
    /// its buffer). Urgent frames are at most send_queue::max_urgent bytes.
    void push_frame(const std::uint8_t* p, std::size_t n, bool urgent)
    {
        if (urgent)
            q_.push_urgent(p, n);
        else
            q_.push(std::make_shared<std::vector<std::uint8_t>>(p, p + n));
    }

    /// Drops what has not started and queues the last frame; completed()
    /// says when it is out.
    void close_after(const std::uint8_t* p, std::size_t n)
    {
        q_.fail_pending(net::error::operation_aborted);
        push_frame(p, n, false);
        closing_ = true;
    }

    /// True if a write should start now.
    bool ready() const noexcept { return !q_.writing() && !q_.empty(); }

    /// Starts a write of what is queued; call only when ready().
    template <class Stream, class Handler>
    void start(Stream& stream, Handler&& handler)
    {
        net::async_write(stream, q_.prepare(), std::forward<Handler>(handler));
    }

    /// As start(), but on a stream socket it first writes what it can at
    /// once, without blocking (the socket must be in non-blocking mode):
    /// a beat's echo then costs one send and no asynchronous operation.
    /// Returns what completed() says when everything went out (or the
    /// write failed); nothing when the rest went to an asynchronous write,
    /// whose completion calls `handler` as start()'s does.
    template <class Stream, class Handler>
    std::optional<outcome> start_now(Stream& stream, Handler&& handler)
    {
        if constexpr (is_stream_socket<Stream>::value) {
            const auto& buffers = q_.prepare();
            error_code ec;
            const std::size_t written = stream.write_some(buffers, ec);
            if (ec != net::error::would_block && (ec || written == net::buffer_size(buffers)))
                return completed(ec);
            // The rest, when the socket takes it (rare: a full send buffer).
            // async_write keeps its own copy of the buffer sequence.
            std::vector<net::const_buffer> rest;
            std::size_t skip = ec ? 0 : written;
            for (const auto& b : buffers) {
                if (skip >= b.size()) {
                    skip -= b.size();
                    continue;
                }
                rest.push_back(b + skip);
                skip = 0;
            }
            net::async_write(stream, std::move(rest), std::forward<Handler>(handler));
            return std::nullopt;
        }
        else {
            start(stream, std::forward<Handler>(handler));
            return std::nullopt;
        }
    }

    /// The write started last completed with `ec`: completes the handlers
    /// of the frames it carried and says what comes next.
    outcome completed(const error_code& ec)
    {
        q_.consume(ec);
        if (ec)
            return outcome::failed;
        if (!q_.empty())
            return outcome::more;
        return closing_ ? outcome::last_frame_out : outcome::idle;
    }

    /// Fails every frame not in flight (the session is over).
    void abandon() { q_.fail_pending(net::error::operation_aborted); }

private:
    send_queue q_;
    bool closing_ = false;
};

} // namespace heartbeat::detail

#endif
