// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_SESSION_CLIENT_SESSION_HPP
#define HEARTBEAT_SESSION_CLIENT_SESSION_HPP

#include <heartbeat/core/detail/fifo.hpp>
#include <heartbeat/core/fixed_misses.hpp>
#include <heartbeat/core/policy_traits.hpp>
#include <heartbeat/session/detail/action_queue.hpp>
#include <heartbeat/session/detail/input.hpp>
#include <heartbeat/session/detail/rtt_estimator.hpp>
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
        terms_changed, ///< the server's TERMS adopted: `interval` and `misses` from now
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
    duration interval{};  ///< established, terms_changed
    unsigned misses = 0;  ///< established, terms_changed
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
        /// The highest protocol version asked for (HELLO's v2 flag); 1
        /// makes the client speak version 1 only. Against a version 1
        /// server a version 2 client runs version 1: no refusal, no extra
        /// round trip.
        std::uint8_t max_version = wire::protocol_version_2;
        /// Offer to answer the server's PROBEs (HELLO's probes flag, with
        /// version 2): each is answered at once with a BEAT, outside the
        /// beat schedule. A server may then keep a client online whose
        /// timers run late, as long as it still reads. Off: a PROBE is a
        /// protocol error.
        bool answer_probes = true;
        /// A watchdog check that runs later than this past the moment the
        /// server would count as lost (this client's own event loop is
        /// behind: the server's answers may wait unread) gives the server
        /// that lateness again, at most one interval, once, before the
        /// session ends with error::peer_lost. Zero disables it.
        duration lag_threshold = std::chrono::milliseconds(10);
        /// Settings of an adaptive detection policy (unused by fixed_misses).
        typename Policy::options detection{};
    };

    enum class phase : std::uint8_t { idle, hello, running, leaving, done };

    explicit client_session(options o)
        : opts_(std::move(o)), decoder_(opts_.max_frame), policy_(opts_.detection), learned_(policy_.initial_state()),
          interval_(opts_.interval), misses_(opts_.misses), rtt_(opts_.rtt_gain)
    {
        if (opts_.max_version < wire::protocol_version_2)
            decoder_.limit_types(wire::last_v1_frame_type);
    }

    // ---- queries -----------------------------------------------------------

    phase state() const noexcept { return phase_; }
    bool established() const noexcept { return phase_ == phase::running; }
    /// True while application DATA may be sent.
    bool can_send() const noexcept { return phase_ == phase::running; }
    duration interval() const noexcept { return interval_; }
    unsigned misses() const noexcept { return misses_; }
    std::optional<duration> last_rtt() const noexcept { return rtt_.last(); }
    std::optional<duration> smoothed_rtt() const noexcept { return rtt_.smoothed(); }
    std::optional<duration> rtt_variation() const noexcept { return rtt_.variation(); }
    /// The protocol version the server's WELCOME granted (1 before it).
    std::uint8_t version() const noexcept { return v2_ ? wire::protocol_version_2 : wire::protocol_version; }
    /// Version 2's WELCOME: the server's grace, its frame limit and how it
    /// detects. Nothing in version 1 (the server does not say).
    std::optional<duration> server_grace() const noexcept { return grace_; }
    std::optional<std::size_t> server_max_frame() const noexcept { return server_max_frame_; }
    std::optional<wire::detection_kind> server_detection() const noexcept { return detection_; }
    /// When a version 2 server refused us for now (server_full), how long
    /// it asked us to wait before trying again.
    std::optional<duration> retry_after() const noexcept { return retry_after_; }
    std::uint64_t beats_sent() const noexcept { return beats_sent_; }
    /// PROBEs read from the server (each answered by a BEAT).
    std::uint64_t probes_received() const noexcept { return probes_; }
    std::uint64_t echoes_received() const noexcept { return echoes_; }
    /// Beats written and not yet answered (bounded).
    std::size_t unanswered() const noexcept { return unanswered_.size(); }

    // ---- inputs ------------------------------------------------------------

    /// The connection is open: HELLO goes out and the hello deadline runs.
    void start(time_point now);

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
    /// batch, so a queued beat is in it) at `now`: a beat's round trip is
    /// timed from here (its watchdog from the write's completion).
    void write_started(time_point now) noexcept;
    void write_started() noexcept { write_started(now_); }

    /// The write started last completed at `now`.
    void write_done(time_point now);

    /// A write failed: the transport is gone.
    void write_failed(time_point now)
    {
        now_ = now;
        finish(ending::transport, {});
    }

    /// The timer armed by the last `wait_until` fired at `now`.
    void timer_fired(time_point now);

    /// Leave gracefully: GOODBYE, then close once the server has closed (or
    /// at close_timeout).
    void leave(time_point now);

    /// Stopped by the application.
    void abort() { finish(ending::aborted, {}); }

    // ---- output ------------------------------------------------------------

    /// The next action. Call until it returns `idle` or `read`.
    action next();

private:
    static constexpr std::size_t max_unanswered = 256;

    struct sent_beat {
        std::uint32_t seq;
        time_point written; // the write completed: the watchdog's start
        time_point started; // the write began: the round trip's start
    };

    void end_of_input();

    void on_frame(const wire::frame_view& f);

    void on_error_frame(const wire::frame_view& f)
    {
        wire::error_frame e;
        if (wire::parse_error(f, e) != wire::decode_status::ok)
            return finish(ending::error, error::protocol_error);
        refused_ = true;
        finish(ending::error, from_wire(e.code));
    }

    void on_welcome(const wire::frame_view& f);

    // Echoes are matched by sequence number: an echo answers its beat and
    // every older one, never a newer one; an echo of a beat never sent is a
    // protocol error.
    void on_echo(std::uint32_t seq);

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

    void on_terms(const wire::frame_view& f);

    // Acknowledges terms `id` (0: WELCOME's), telling the server our limit.
    void acknowledge(std::uint16_t id, bool urgent);

    // Checks terms against our bounds.
    bool acceptable(duration iv, unsigned misses) const noexcept
    {
        return iv >= opts_.min_interval && iv <= opts_.max_interval && iv * misses <= opts_.max_timeout;
    }

    // A beat of the schedule: the next one falls due an interval from now.
    void beat(time_point now);

    // Queues a BEAT with the next seq, unless one is queued already (it
    // goes out first in any case).
    void queue_beat(time_point now);

    void on_probe(const wire::frame_view& f);

    // With fixed misses the server is lost the first tick after the
    // misses-th unanswered beat's echo became overdue: its write completed
    // more than one interval ago.
    std::optional<time_point> watchdog() const;
    // watchdog(), or the end of its one deferral for lateness.
    std::optional<time_point> lost_at() const;

    // Arms the one timer for the earliest deadline of the phase, if it
    // moved.
    void rearm();

    void finish(ending how, error code);

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
    time_point writing_since_{};
    detail::fifo<sent_beat> unanswered_;
    bool wrote_this_interval_ = false;
    bool heard_this_interval_ = false;

    detail::rtt_estimator<duration> rtt_;
    bool v2_ = false; // the server's WELCOME granted version 2
    std::optional<duration> grace_;
    std::optional<std::size_t> server_max_frame_;
    std::optional<wire::detection_kind> detection_;
    std::optional<duration> retry_after_;
    std::optional<time_point> deferred_watchdog_; // the watchdog instant the lag rule put off, to lag_until_
    time_point lag_until_{};
    bool refused_ = false; // the session ended with the server's ERROR
    // The stamp of the newest version 2 ECHO, returned in the next BEAT
    // with how long we held it.
    bool stamp_pending_ = false;
    std::uint32_t stamp_ = 0;
    time_point stamp_read_{};
    std::uint64_t beats_sent_ = 0;
    std::uint64_t echoes_ = 0;
    std::uint64_t probes_ = 0;

    std::vector<std::uint8_t> hello_frame_;
    wire::stamped_frame beat_frame_{};
    std::array<std::uint8_t, wire::header_size + wire::terms_ack_payload_size> ack_frame_{};
    std::array<std::uint8_t, wire::header_size + 1> goodbye_frame_{};
};

} // namespace heartbeat

#include <heartbeat/session/impl/client_session.hpp>

#endif
