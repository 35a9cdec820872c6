// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_PULSE_HPP
#define HEARTBEAT_PULSE_HPP

#include <heartbeat/core/fixed_misses.hpp>
#include <heartbeat/detail/config.hpp>
#include <heartbeat/detail/erased_handler.hpp>
#include <heartbeat/detail/outbox.hpp>
#include <heartbeat/detail/stream.hpp>
#include <heartbeat/error.hpp>
#include <heartbeat/session/client_session.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <string>
#include <string_view>
#include <vector>

namespace heartbeat {

/// The client side of one connection: says HELLO, beats, and watches the
/// server's echoes to notice a dead or hung server.
///
/// After WELCOME the pulse beats every interval the server stated (the
/// client adopts the server's interval and miss count, so both sides
/// compute the same timeout). Each BEAT's echo is expected within one
/// interval of the beat's write completing; echoes are matched by sequence
/// number, so a late echo of an old beat does not excuse newer ones. Any
/// other byte from the server counts as life. After `misses` consecutive
/// unanswered beats the server is lost and `async_run` completes with
/// `error::peer_lost`.
///
/// A beat never waits behind queued application DATA: it goes out in the
/// next write, ahead of anything still queued.
///
/// With an adaptive `Policy` (phi_accrual), the server is instead lost when
/// the policy, fed with the arrival times of answers (the echo of the
/// newest beat, or any other traffic), says so; `options::detection` holds
/// its settings. With the default fixed_misses policy the rule above holds
/// and `detection` is unused: N and the interval come from WELCOME.
///
/// @par Thread safety
/// Every public function may be called from any thread; the work runs on
/// the pulse's strand. Callbacks run on the strand.
template <class Stream, class Clock = std::chrono::steady_clock, class Policy = fixed_misses<Clock>>
class pulse {
    static_assert(detail::is_async_stream<Stream>::value,
                  "heartbeat::pulse: Stream must be an Asio async stream "
                  "(get_executor, async_read_some, async_write_some)");

public:
    using stream_type = Stream;
    using clock_type = Clock;
    using duration = typename Clock::duration;
    using time_point = typename Clock::time_point;
    using executor_type = net::strand<typename Stream::executor_type>;

    using session_type = client_session<Clock, Policy>;

    /// The session's options (heartbeat/session/client_session.hpp: id,
    /// credential, interval, misses, hello_timeout, beat_only_when_idle,
    /// max_frame, close_timeout, the bounds on the server's terms, rtt_gain,
    /// max_version, answer_probes, detection) and the driver's own.
    struct options : session_type::options {
        /// Bytes read per read operation.
        std::size_t read_buffer_size = 1024;
        /// The largest message async_send() passes to the server: the
        /// server's receive limit (`watcher::options::max_frame`, 64 KiB by
        /// default). A version 2 server states its own in WELCOME, and the
        /// smaller of the two holds; version 1 does not tell it. A larger
        /// message fails locally with error::message_too_large instead of
        /// making the server end the session.
        std::size_t peer_max_frame = wire::default_max_payload;
    };

    pulse(Stream stream, options opts)
        : state_(std::make_shared<state>(std::move(stream), std::move(opts)))
    {
    }

    pulse(const pulse&) = delete;
    pulse& operator=(const pulse&) = delete;

    /// Closes the connection; a pending async_run completes with
    /// operation_aborted.
    ~pulse() { stop(); }

    executor_type get_executor() const noexcept { return state_->strand; }
    Stream& next_layer() noexcept { return state_->stream; }

    /// DATA frames from the server (framed mode).
    ///
    /// @par Thread safety
    /// Both setters are safe at any time from any thread: the callback
    /// takes effect on the strand, in order with an async_run() started
    /// after it. Callbacks run on the strand and must not throw.
    void on_message(std::function<void(std::string_view)> f)
    {
        net::dispatch(state_->strand, [s = state_, f = std::move(f)]() mutable { s->cb_message = std::move(f); });
    }
    /// Called once WELCOME has arrived, with the terms the server stated.
    void on_welcome(std::function<void(duration interval, unsigned misses)> f)
    {
        net::dispatch(state_->strand, [s = state_, f = std::move(f)]() mutable { s->cb_welcome = std::move(f); });
    }
    /// Called when a version 2 server changed the terms mid-session (its
    /// TERMS, acknowledged and adopted), with the new terms.
    void on_terms(std::function<void(duration interval, unsigned misses)> f)
    {
        net::dispatch(state_->strand, [s = state_, f = std::move(f)]() mutable { s->cb_terms = std::move(f); });
    }

    /// Runs the session: HELLO, WELCOME, then beats until the session ends.
    ///
    /// Completion signature: `void(error_code)`. The code says why the
    /// session ended: `error::peer_lost` (beats unanswered),
    /// `error::hello_timeout`, `error::rejected` and its specific codes
    /// (auth_failed, duplicate_id, ...: the server's ERROR frame),
    /// `error::peer_left` / `error::shutting_down` / `error::replaced` (the
    /// server's GOODBYE), a transport error, `operation_aborted` after
    /// stop(), or success after leave().
    ///
    /// Call it once per pulse (a second call completes with `in_progress`).
    /// The default completion token is the stream executor's (so a
    /// `use_awaitable_t<>::as_default_on_t<tcp::socket>` stream makes
    /// `co_await pulse.async_run()` work). The handler runs on the pulse's
    /// strand.
    ///
    /// @par Cancellation
    /// No per-operation cancellation slot: stop() (or destroying the pulse)
    /// ends the run with `operation_aborted`; leave() ends it gracefully.
    template <class CompletionToken = net::default_completion_token_t<typename Stream::executor_type>>
    auto async_run(CompletionToken&& token = net::default_completion_token_t<typename Stream::executor_type>{})
    {
        return net::async_initiate<CompletionToken, void(error_code)>(run_initiation{state_}, token);
    }

    /// Sends `bytes` as one DATA frame. Completion signature:
    /// `void(error_code)`, once written (or failed): `error::message_too_large`
    /// beyond `options::peer_max_frame`, `try_again` before WELCOME or while
    /// leaving, `not_connected` once the session is over. The bytes are
    /// copied. Sends queued when the session ends (or leave() drops them)
    /// complete with `operation_aborted`; there is no per-operation
    /// cancellation.
    template <class CompletionToken = net::default_completion_token_t<typename Stream::executor_type>>
    auto async_send(std::string_view bytes,
                    CompletionToken&& token = net::default_completion_token_t<typename Stream::executor_type>{})
    {
        auto frame = detail::make_data_frame(bytes, state_->send_limit.load(std::memory_order_relaxed));
        return net::async_initiate<CompletionToken, void(error_code)>(send_initiation{state_}, token,
                                                                        std::move(frame));
    }

    /// Leaves gracefully: sends GOODBYE, then closes; async_run completes
    /// with success. Also during the handshake: a server that already
    /// counted the peer online then reports it offline with reason `left`.
    void leave()
    {
        net::dispatch(state_->strand, [s = state_] { s->leave(); });
    }

    /// Closes at once; async_run completes with operation_aborted.
    void stop()
    {
        net::dispatch(state_->strand, [s = state_] { s->abort(); });
    }

    // ---- queries: any thread -------------------------------------------

    /// True between WELCOME and the end of the session.
    bool is_established() const noexcept { return state_->established.load(); }

    /// The round-trip time of the last echoed beat, if any.
    std::optional<duration> last_rtt() const noexcept { return load(state_->last_rtt); }

    /// A smoothed round-trip time (RFC 6298 style, gain `options::rtt_gain`).
    std::optional<duration> smoothed_rtt() const noexcept { return load(state_->srtt); }

    /// The RTT's mean deviation (RFC 6298's rttvar).
    std::optional<duration> rtt_variation() const noexcept { return load(state_->rttvar); }

    /// The protocol version the session runs: 2 with a server that
    /// granted it, 1 with a version 1 server (or before WELCOME).
    std::uint8_t version() const noexcept { return state_->version.load(); }

    /// After a refusal for now (server_full), how long a version 2 server
    /// asked us to wait before the next attempt.
    std::optional<duration> retry_after() const noexcept { return load(state_->retry_after); }

    /// The interval and misses in force (the server's once welcomed).
    duration interval() const noexcept { return duration(state_->interval_ticks.load()); }
    unsigned misses() const noexcept { return state_->misses.load(); }

    /// Beats sent and echoes received so far.
    std::uint64_t beats_sent() const noexcept { return state_->beats_sent.load(); }
    std::uint64_t echoes_received() const noexcept { return state_->echoes.load(); }

private:
    using rep = typename duration::rep;
    static std::optional<duration> load(const std::atomic<rep>& a) noexcept
    {
        const rep v = a.load();
        if (v < 0)
            return std::nullopt;
        return duration(v);
    }

    struct state;
    struct run_initiation;
    struct send_initiation;

    std::shared_ptr<state> state_;
};

} // namespace heartbeat

#include <heartbeat/impl/pulse.hpp>

#endif
