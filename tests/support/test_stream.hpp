// An in-memory, connected pair of Asio streams with failure injection, for
// testing the components' I/O glue without sockets.
#ifndef HEARTBEAT_TESTS_TEST_STREAM_HPP
#define HEARTBEAT_TESTS_TEST_STREAM_HPP

#include <heartbeat/detail/config.hpp>
#include <heartbeat/detail/erased_handler.hpp>

#include <deque>
#include <memory>
#include <optional>
#include <utility>

namespace heartbeat_test {

namespace net = heartbeat::net;

class test_stream {
    struct side {
        std::deque<std::uint8_t> inbound;
        heartbeat::detail::erased_handler<heartbeat::error_code, std::size_t> pending_read;
        net::mutable_buffer pending_buffer;
        bool closed = false;
        std::optional<heartbeat::error_code> fail_next_read;
        std::optional<heartbeat::error_code> fail_next_write;
        std::size_t bytes_written = 0;
    };
    struct shared {
        side ends[2];
    };

public:
    using executor_type = net::any_io_executor;

    /// Two connected ends.
    static std::pair<test_stream, test_stream> make_pair(const executor_type& ex)
    {
        auto s = std::make_shared<shared>();
        return {test_stream(ex, s, 0), test_stream(ex, s, 1)};
    }

    test_stream(test_stream&&) noexcept = default;
    test_stream& operator=(test_stream&&) noexcept = default;
    ~test_stream()
    {
        if (shared_)
            close();
    }

    executor_type get_executor() const noexcept { return ex_; }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token)
    {
        return net::async_initiate<Token, void(heartbeat::error_code, std::size_t)>(
            [this](auto handler, const MutableBuffers& b) {
                heartbeat::detail::erased_handler<heartbeat::error_code, std::size_t> h(std::move(handler), ex_);
                side& me = mine();
                if (me.fail_next_read) {
                    auto ec = *me.fail_next_read;
                    me.fail_next_read.reset();
                    return h.complete(ec, 0);
                }
                me.pending_read = std::move(h);
                me.pending_buffer = *net::buffer_sequence_begin(b);
                deliver(me);
            },
            token, buffers);
    }

    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token)
    {
        return net::async_initiate<Token, void(heartbeat::error_code, std::size_t)>(
            [this](auto handler, const ConstBuffers& b) {
                heartbeat::detail::erased_handler<heartbeat::error_code, std::size_t> h(std::move(handler), ex_);
                side& me = mine();
                side& peer = theirs();
                if (me.fail_next_write) {
                    auto ec = *me.fail_next_write;
                    me.fail_next_write.reset();
                    return h.complete(ec, 0);
                }
                if (me.closed || peer.closed)
                    return h.complete(net::error::broken_pipe, 0);
                std::size_t n = 0;
                for (auto it = net::buffer_sequence_begin(b); it != net::buffer_sequence_end(b); ++it) {
                    const auto* p = static_cast<const std::uint8_t*>(it->data());
                    peer.inbound.insert(peer.inbound.end(), p, p + it->size());
                    n += it->size();
                }
                me.bytes_written += n;
                deliver(peer);
                h.complete({}, n);
            },
            token, buffers);
    }

    /// Closes this end: its pending read completes with operation_aborted,
    /// the peer's with end of stream.
    void close()
    {
        side& me = mine();
        if (me.closed)
            return;
        me.closed = true;
        me.inbound.clear();
        if (me.pending_read)
            me.pending_read.complete(net::error::operation_aborted, 0);
        deliver(theirs());
    }

    void close(heartbeat::error_code& ec)
    {
        ec = {};
        close();
    }

    /// The next read or write on this end fails with `ec`.
    void fail_next_read(heartbeat::error_code ec) { mine().fail_next_read = ec; }
    void fail_next_write(heartbeat::error_code ec) { mine().fail_next_write = ec; }

    std::size_t bytes_written() const { return shared_->ends[index_].bytes_written; }

private:
    test_stream(const executor_type& ex, std::shared_ptr<shared> s, int index)
        : ex_(ex), shared_(std::move(s)), index_(index)
    {
    }

    side& mine() { return shared_->ends[index_]; }
    side& theirs() { return shared_->ends[1 - index_]; }

    // Completes `s`'s pending read if it can make progress.
    void deliver(side& s)
    {
        if (!s.pending_read)
            return;
        const bool peer_closed = &s == &mine() ? theirs().closed : mine().closed;
        if (!s.inbound.empty()) {
            const std::size_t n = std::min(s.inbound.size(), s.pending_buffer.size());
            auto* out = static_cast<std::uint8_t*>(s.pending_buffer.data());
            std::copy(s.inbound.begin(), s.inbound.begin() + static_cast<std::ptrdiff_t>(n), out);
            s.inbound.erase(s.inbound.begin(), s.inbound.begin() + static_cast<std::ptrdiff_t>(n));
            s.pending_read.complete({}, n);
        }
        else if (peer_closed) {
            s.pending_read.complete(net::error::eof, 0);
        }
    }

    executor_type ex_;
    std::shared_ptr<shared> shared_;
    int index_ = 0;
};

} // namespace heartbeat_test

#endif
