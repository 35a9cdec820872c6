// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_SESSION_CLIENT_SESSION_HPP
#define HEARTBEAT_SESSION_CLIENT_SESSION_HPP

#include <heartbeat/core/detail/fifo.hpp>
#include <heartbeat/core/fixed_misses.hpp>
#include <heartbeat/core/policy_traits.hpp>
#include <heartbeat/session/detail/action_queue.hpp>
#include <heartbeat/session/detail/input.hpp>
#include <heartbeat/session/error.hpp>
#include <heartbeat/wire/decoder.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace heartbeat {

/// One thing a client session has decided its driver must do.
template <class Clock>
struct client_action {
    using duration = typename Clock::duration;
    using time_point = typename Clock::time_point;

    enum class kind : std::uint8_t {
        idle,         ///< nothing until the next input
        read,         ///< read more bytes, then `feed` them
        write,        ///< queue `bytes()` (`urgent`: ahead of queued DATA) and flush
        deliver,      ///< an application message, `bytes()`
        established,  ///< WELCOME accepted: the terms are `interval` and `misses`
        wait_until,   ///< (re)arm the session's timer for `at`, then `timer_fired`
        cancel_timer, ///< the timer is no longer needed
        close_after,  ///< drop queued frames not yet in flight, write `bytes()`, half-close once
                      ///< flushed and read until the server's EOF (or the timer) ends it
        finish        ///< the session is over: close the transport and report `end`
    };

    /// How a session ended.
    enum class ending : std::uint8_t {
        none,      ///< not over
        success,   ///< we left (GOODBYE) and the server let us go
        error,     ///< `code` says why (refused, lost, protocol, ...)
        transport, ///< the transport failed or closed: report its own error
        aborted    ///< stopped by the application
    };

    kind type = kind::idle;
    bool urgent = false;  ///< write
    ending end = ending::none;
    error code{};         ///< finish with ending::error
    time_point at{};      ///< wait_until
    duration interval{};  ///< established
    unsigned misses = 0;  ///< established
    const std::uint8_t* data = nullptr;
    std::size_t size = 0;

    std::string_view bytes() const noexcept { return {reinterpret_cast<const char*>(data), size}; }
};

/// The client's side of one connection, as a state machine without I/O.
///
/// It says HELLO, adopts the server's terms from WELCOME (within bounds of
/// its own), beats every interval, matches echoes to beats by sequence
/// number and declares the server lost after `misses` consecutive beats
/// whose echo did not come within one interval of the beat leaving (or,
/// with an adaptive policy, when the policy gives up on the server's
/// answers). A driver (the pulse) reads, writes, arms one timer, and tells
/// the machine when a write starts and completes: the echo's clock starts
/// when the beat has left, not when it was queued.
///
/// Phases: idle -> hello -> running -> [leaving] -> done.
///
/// A step allocates nothing once the session runs: the actions sit in a
/// fixed ring, beats in a buffer of the machine's, and the unanswered beats
/// in a queue whose length is bounded.
template <class Clock = std::chrono::steady_clock, class Policy = fixed_misses<Clock>>
class client_session {
public:
    using clock_type = Clock;
    using duration = typename Clock::duration;
    using time_point = typename Clock::time_point;
    using action = client_action<Clock>;
    using kind = typename action::kind;
    using ending = typename action::ending;

    /// Does the policy count unanswered beats (fixed misses), or learn
    /// from the arrival times of the server's answers (phi-accrual)?
    static constexpr bool counts_echoes = counts_echoes_v<Policy>;

    struct options {
        /// The identity announced in HELLO (1 to 255 bytes).
        std::string id;
        /// Opaque bytes for the server's authenticator (up to 4096).
        std::string credential;
        /// The interval requested; the server's WELCOME decides.
        duration interval = std::chrono::seconds(1);
        /// Misses tolerated until WELCOME says otherwise.
        unsigned misses = 3;
        /// WELCOME must arrive within this time of starting.
        duration hello_timeout = std::chrono::seconds(5);
        /// Skip a beat when the last interval already saw traffic in both
        /// directions (the beat would prove nothing new).
        bool beat_only_when_idle = false;
        /// The largest frame payload accepted from the server.
        std::size_t max_frame = wire::default_max_payload;
        /// How long leave() waits for GOODBYE to be written and the server
        /// to close.
        duration close_timeout = std::chrono::seconds(1);
        /// The terms a WELCOME may set: an interval outside
        /// [min_interval, max_interval], or a timeout (misses * interval)
        /// over `max_timeout`, ends the session with
        /// error::unacceptable_terms (a server that asks for a beat every
        /// millisecond, or would let us wait a day to notice it is gone, is
        /// broken or hostile).
        duration min_interval = std::chrono::milliseconds(10);
        duration max_interval = std::chrono::minutes(10);
        duration max_timeout = std::chrono::hours(1);
        /// The weight of a new sample in the smoothed RTT (RFC 6298: 1/8).
        double rtt_gain = 0.125;
        /// Settings of an adaptive detection policy (unused by fixed_misses).
        typename Policy::options detection{};
    };

    enum class phase : std::uint8_t { idle, hello, running, leaving, done };

    explicit client_session(options o)
        : opts_(std::move(o)), decoder_(opts_.max_frame), policy_(opts_.detection), learned_(policy_.initial_state()),
          interval_(opts_.interval), misses_(opts_.misses)
    {
    }

    // ---- queries -----------------------------------------------------------

    phase state() const noexcept { return phase_; }
    bool established() const noexcept { return phase_ == phase::running; }
    /// True while application DATA may be sent.
    bool can_send() const noexcept { return phase_ == phase::running; }
    duration interval() const noexcept { return interval_; }
    unsigned misses() const noexcept { return misses_; }
    std::optional<duration> last_rtt() const noexcept { return last_rtt_; }
    std::optional<duration> smoothed_rtt() const noexcept { return srtt_; }
    std::uint64_t beats_sent() const noexcept { return beats_sent_; }
    std::uint64_t echoes_received() const noexcept { return echoes_; }
    /// Beats written and not yet answered (bounded).
    std::size_t unanswered() const noexcept { return unanswered_.size(); }

    // ---- inputs ------------------------------------------------------------

    /// The connection is open: HELLO goes out and the hello deadline runs.
    void start(time_point now)
    {
        now_ = now;
        if (phase_ != phase::idle)
            return;
        if (opts_.id.empty() || opts_.id.size() > wire::max_id_size
            || opts_.credential.size() > wire::max_credential_size)
            return finish(ending::error, error::bad_id);
        phase_ = phase::hello;
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.interval).count();
        hello_frame_.clear();
        wire::append_hello(hello_frame_, {wire::protocol_version,
                                          static_cast<std::uint32_t>(std::clamp<long long>(ms, 0, 0xFFFF'FFFFLL)),
                                          opts_.id, opts_.credential});
        action a = make(kind::write);
        a.data = hello_frame_.data();
        a.size = hello_frame_.size();
        queue_.push(a);
        hello_deadline_ = now + opts_.hello_timeout;
        rearm();
    }

    /// `n` bytes read at `now`; `end_of_stream` if the read also reported
    /// EOF or an error (the bytes are processed first). The bytes must stay
    /// put until the machine asks to read again.
    void feed(const std::uint8_t* p, std::size_t n, time_point now, bool end_of_stream = false)
    {
        now_ = now;
        in_.fed(p, n, end_of_stream);
        life_ = false;
        if (n != 0)
            heard_this_interval_ = true;
    }

    /// The driver started a write of its queue (urgent frames lead every
    /// batch, so a queued beat is in it).
    void write_started() noexcept
    {
        wrote_this_interval_ = true;
        if (queued_beat_) {
            writing_beat_ = queued_beat_;
            highest_sent_ = *queued_beat_;
            sent_any_ = true;
            queued_beat_.reset();
        }
    }

    /// The write started last completed at `now`.
    void write_done(time_point now)
    {
        now_ = now;
        if (!writing_beat_)
            return;
        if (!echoed_in_flight_) {
            unanswered_.push_back({*writing_beat_, now});
            // With an adaptive policy nothing caps the list but the policy's
            // own verdict: keep it bounded for a server that never answers.
            if (unanswered_.size() > max_unanswered)
                unanswered_.pop_front();
        }
        writing_beat_.reset();
        echoed_in_flight_ = false;
        ++beats_sent_;
        rearm();
    }

    /// A write failed: the transport is gone.
    void write_failed(time_point now)
    {
        now_ = now;
        finish(ending::transport, {});
    }

    /// The timer armed by the last `wait_until` fired at `now`.
    void timer_fired(time_point now)
    {
        now_ = now;
        armed_.reset();
        switch (phase_) {
        case phase::hello:
            if (now >= hello_deadline_)
                return finish(ending::error, error::hello_timeout);
            break;
        case phase::running:
            if (const auto lost = watchdog(); lost && now >= *lost)
                return finish(ending::error, error::peer_lost);
            if (now >= beat_due_)
                beat(now);
            break;
        case phase::leaving:
            if (now >= close_deadline_)
                return finish(ending::success, {});
            break;
        case phase::idle:
        case phase::done: break;
        }
        rearm();
    }

    /// Leave gracefully: GOODBYE, then close once the server has closed (or
    /// at close_timeout).
    void leave(time_point now)
    {
        now_ = now;
        if (phase_ == phase::done || phase_ == phase::leaving)
            return;
        if (phase_ == phase::idle)
            return finish(ending::success, {});
        phase_ = phase::leaving;
        queued_beat_.reset(); // close_after drops it with the rest of the queue
        close_deadline_ = now + opts_.close_timeout;
        const auto bye = wire::encode_goodbye(wire::goodbye_reason::normal);
        std::copy(bye.begin(), bye.end(), goodbye_frame_.begin());
        rearm();
        action a = make(kind::close_after);
        a.data = goodbye_frame_.data();
        a.size = bye.size();
        queue_.push(a);
    }

    /// Stopped by the application.
    void abort() { finish(ending::aborted, {}); }

    // ---- output ------------------------------------------------------------

    /// The next action. Call until it returns `idle` or `read`.
    action next()
    {
        for (;;) {
            if (!queue_.empty())
                return queue_.pop();
            if (phase_ == phase::done || phase_ == phase::idle)
                return action{};
            if (in_.has_bytes()) {
                wire::frame_view f{};
                switch (decoder_.next(in_.cursor(), in_.end(), f)) {
                case wire::decoder::step::frame:
                    if (f.type != wire::frame_type::echo)
                        life_ = true;
                    on_frame(f);
                    continue;
                case wire::decoder::step::failed:
                    finish(ending::error, to_error(decoder_.status()));
                    continue;
                case wire::decoder::step::need_more: break;
                }
            }
            if (in_.take_end_of_feed()) {
                if (decoder_.mid_frame())
                    life_ = true; // part of a larger frame: the server is talking
                end_of_input();
                continue;
            }
            if (in_.take_eof()) {
                finish(phase_ == phase::leaving ? ending::success : ending::transport, {});
                continue;
            }
            return in_.take_read_request() ? make(kind::read) : action{};
        }
    }

private:
    static constexpr std::size_t max_unanswered = 256;

    struct sent_beat {
        std::uint32_t seq;
        time_point written;
    };

    void end_of_input()
    {
        if (life_ && phase_ == phase::running) {
            // Any traffic but an echo answers everything sent so far.
            unanswered_.clear();
            answered(now_);
        }
        life_ = false;
        rearm();
    }

    void on_frame(const wire::frame_view& f)
    {
        using wire::frame_type;
        if (phase_ == phase::hello) {
            if (f.type == frame_type::welcome)
                return on_welcome(f);
            if (f.type == frame_type::error)
                return on_error_frame(f);
            return finish(ending::error, error::protocol_error);
        }
        if (phase_ == phase::leaving && f.type == frame_type::welcome)
            return; // leave() overtook the handshake; GOODBYE is on its way
        switch (f.type) {
        case frame_type::echo: {
            std::uint32_t seq = 0;
            if (wire::parse_sequence(f, seq) != wire::decode_status::ok)
                return finish(ending::error, error::protocol_error);
            return on_echo(seq);
        }
        case frame_type::data: {
            action a = make(kind::deliver);
            a.data = f.payload;
            a.size = f.size;
            return queue_.push(a);
        }
        case frame_type::error: return on_error_frame(f);
        case frame_type::goodbye: {
            wire::goodbye_reason r{};
            if (wire::parse_goodbye(f, r) != wire::decode_status::ok)
                return finish(ending::error, error::protocol_error);
            if (phase_ == phase::leaving)
                return finish(ending::success, {}); // we were leaving anyway
            return finish(ending::error, r == wire::goodbye_reason::replaced        ? error::replaced
                                         : r == wire::goodbye_reason::shutting_down ? error::shutting_down
                                                                                    : error::peer_left);
        }
        default: return finish(ending::error, error::protocol_error);
        }
    }

    void on_error_frame(const wire::frame_view& f)
    {
        wire::error_frame e;
        if (wire::parse_error(f, e) != wire::decode_status::ok)
            return finish(ending::error, error::protocol_error);
        finish(ending::error, from_wire(e.code));
    }

    void on_welcome(const wire::frame_view& f)
    {
        wire::welcome w;
        if (const auto st = wire::parse_welcome(f, w); st != wire::decode_status::ok)
            return finish(ending::error, to_error(st));
        const auto iv = std::chrono::duration_cast<duration>(std::chrono::milliseconds(w.interval_ms));
        if (iv < opts_.min_interval || iv > opts_.max_interval || iv * w.misses > opts_.max_timeout)
            return finish(ending::error, error::unacceptable_terms);
        phase_ = phase::running;
        interval_ = iv;
        misses_ = w.misses;
        last_answer_ = now_;
        if constexpr (!counts_echoes) {
            learned_ = policy_.initial_state();
            policy_.set_interval(learned_, iv);
            policy_.on_online(learned_, last_answer_);
        }
        beat_due_ = now_ + interval_;
        action a = make(kind::established);
        a.interval = iv;
        a.misses = w.misses;
        queue_.push(a);
    }

    // Echoes are matched by sequence number: an echo answers its beat and
    // every older one, never a newer one; an echo of a beat never sent is a
    // protocol error.
    void on_echo(std::uint32_t seq)
    {
        if (!sent_any_ || static_cast<std::int32_t>(seq - highest_sent_) > 0)
            return finish(ending::error, error::protocol_error);
        ++echoes_;
        if (writing_beat_ && *writing_beat_ == seq) {
            // Answered before our write completion ran: it was on the wire.
            echoed_in_flight_ = true;
            unanswered_.clear();
            return answered(now_);
        }
        const bool newest = !unanswered_.empty() && unanswered_.back().seq == seq;
        while (!unanswered_.empty() && static_cast<std::int32_t>(unanswered_.front().seq - seq) <= 0) {
            if (unanswered_.front().seq == seq)
                record_rtt(now_ - unanswered_.front().written);
            unanswered_.pop_front();
        }
        if (newest)
            answered(now_);
    }

    // The server has answered everything we sent: an arrival for an
    // adaptive policy.
    void answered(time_point now)
    {
        if constexpr (!counts_echoes) {
            if (now > last_answer_)
                policy_.on_beat(learned_, last_answer_, now);
        }
        last_answer_ = std::max(last_answer_, now);
    }

    void record_rtt(duration rtt)
    {
        last_rtt_ = rtt;
        if (!srtt_)
            srtt_ = rtt;
        else
            srtt_ = *srtt_ + std::chrono::duration_cast<duration>((rtt - *srtt_) * opts_.rtt_gain);
    }

    void beat(time_point now)
    {
        const bool busy_both_ways = wrote_this_interval_ && heard_this_interval_;
        wrote_this_interval_ = false;
        heard_this_interval_ = false;
        beat_due_ = now + interval_;
        // At most one beat waits for the write in flight; it goes out ahead
        // of queued DATA as soon as that write completes.
        if ((opts_.beat_only_when_idle && busy_both_ways) || queued_beat_)
            return;
        const std::uint32_t seq = next_seq_++;
        const auto frame = wire::encode_beat(seq);
        std::copy(frame.begin(), frame.end(), beat_frame_.begin());
        queued_beat_ = seq;
        action a = make(kind::write);
        a.urgent = true;
        a.data = beat_frame_.data();
        a.size = frame.size();
        queue_.push(a);
    }

    // With fixed misses the server is lost the first tick after the
    // misses-th unanswered beat's echo became overdue: its write completed
    // more than one interval ago.
    std::optional<time_point> watchdog() const
    {
        if constexpr (counts_echoes) {
            if (misses_ == 0 || unanswered_.size() < misses_)
                return std::nullopt;
            auto it = unanswered_.begin();
            it += static_cast<std::ptrdiff_t>(misses_ - 1);
            return it->written + interval_ + duration(1);
        }
        else {
            return policy_.offline_at(learned_, last_answer_);
        }
    }

    // Arms the one timer for the earliest deadline of the phase, if it
    // moved.
    void rearm()
    {
        std::optional<time_point> due;
        if (phase_ == phase::hello)
            due = hello_deadline_;
        else if (phase_ == phase::running) {
            due = beat_due_;
            if (const auto lost = watchdog())
                due = std::min(*due, *lost);
        }
        else if (phase_ == phase::leaving)
            due = close_deadline_;
        if (due == armed_)
            return;
        armed_ = due;
        action a = make(due ? kind::wait_until : kind::cancel_timer);
        if (due)
            a.at = *due;
        queue_.push(a);
    }

    void finish(ending how, error code)
    {
        if (phase_ == phase::done)
            return;
        phase_ = phase::done;
        armed_.reset();
        in_.forget();
        queued_beat_.reset();
        action a = make(kind::finish);
        a.end = how;
        a.code = code;
        queue_.push(a);
    }

    action make(kind k) const noexcept
    {
        action a;
        a.type = k;
        return a;
    }

    options opts_;
    wire::decoder decoder_;
    Policy policy_;
    typename Policy::peer_state learned_;
    detail::action_queue<action> queue_;
    phase phase_ = phase::idle;
    detail::session_input in_;
    bool life_ = false; // the current feed carried something other than echoes
    time_point now_{};
    time_point hello_deadline_{};
    time_point close_deadline_{};
    time_point beat_due_{};
    time_point last_answer_{};
    std::optional<time_point> armed_;
    duration interval_;
    unsigned misses_;

    // Beats: queued (not yet written), in the write in flight, and written
    // but not yet answered (with the time the write completed).
    std::uint32_t next_seq_ = 1;
    std::uint32_t highest_sent_ = 0;
    bool sent_any_ = false;
    bool echoed_in_flight_ = false;
    std::optional<std::uint32_t> queued_beat_;
    std::optional<std::uint32_t> writing_beat_;
    detail::fifo<sent_beat> unanswered_;
    bool wrote_this_interval_ = false;
    bool heard_this_interval_ = false;

    std::optional<duration> last_rtt_;
    std::optional<duration> srtt_;
    std::uint64_t beats_sent_ = 0;
    std::uint64_t echoes_ = 0;

    std::vector<std::uint8_t> hello_frame_;
    wire::beat_frame beat_frame_{};
    std::array<std::uint8_t, wire::header_size + 1> goodbye_frame_{};
};

} // namespace heartbeat

#endif
