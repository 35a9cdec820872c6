// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_SESSION_SERVER_SESSION_HPP
#define HEARTBEAT_SESSION_SERVER_SESSION_HPP

#include <heartbeat/core/events.hpp>
#include <heartbeat/session/detail/input.hpp>
#include <heartbeat/session/detail/rtt_estimator.hpp>
#include <heartbeat/session/error.hpp>
#include <heartbeat/wire/decoder.hpp>

#include <algorithm>
#include <array>
#include <cassert>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace heartbeat {

/// What a server does when a second connection claims an id that is online.
enum class duplicate_policy {
    replace, ///< the old session goes offline (reason replaced) and is closed
    reject   ///< the newcomer gets ERROR duplicate_id and is closed
};

/// One thing a server session has decided its driver must do.
template <class Clock>
struct server_action {
    using duration = typename Clock::duration;
    using time_point = typename Clock::time_point;

    enum class kind : std::uint8_t {
        idle,         ///< nothing until the next input
        read,         ///< read more bytes, then `feed` them
        handshake,    ///< run the transport's handshake (TLS, an upgrade), then `handshake_done`
        authenticate, ///< check `id` / `credential` / `interval`, then `authenticated`
        admit,        ///< register `id` at `at`, held to `interval` (`replace`: taking over a live
                      ///< holder), then `admitted`
        touch,        ///< the peer showed life at `at`
        write,        ///< queue `bytes()` (`urgent`: ahead of queued DATA) and flush
        deliver,      ///< an application message, `bytes()`
        sample_rtt,   ///< refresh the transport's RTT estimate for this peer
        measured_rtt, ///< a new round-trip sample: `rtt` (see the machine's smoothed_rtt())
        hold,         ///< the registry holds the peer to `interval` and `misses` from now
                      ///< (renegotiated terms)
        probe,        ///< send the transport's own liveness probe (a WebSocket ping), then
                      ///< `probe_answered` when its answer arrives (never to a peer that
                      ///< answers PROBE frames: the machine writes those itself)
        release,      ///< take the peer out of the registry with `reason`
        wait_until,   ///< (re)arm the session's timer for `at`, then `timer_fired`
        cancel_timer, ///< the timer is no longer needed
        close_after,  ///< drop queued frames not yet in flight, write `bytes()`, half-close once
                      ///< flushed and discard input until EOF (or the timer) ends it
        close         ///< close the transport now; the session is over
    };

    kind type = kind::idle;
    bool urgent = false;           ///< write
    bool replace = false;          ///< admit
    offline_reason reason{};       ///< release
    std::optional<error> cause;    ///< close_after, close: why the session ends, if not a normal end
    time_point at{};               ///< touch, admit, wait_until
    duration interval{};           ///< authenticate (as announced, zero if none), admit and hold
    duration rtt{};                ///< measured_rtt
    unsigned misses = 0;           ///< hold
    std::string_view id;           ///< authenticate, admit
    std::string_view credential;   ///< authenticate
    const std::uint8_t* data = nullptr;
    std::size_t size = 0;

    /// The frame to write or the message to deliver; valid until the
    /// machine's next step.
    std::string_view bytes() const noexcept { return {reinterpret_cast<const char*>(data), size}; }
};

/// The machine's answer to an application message (`accept_send`).
enum class send_verdict : std::uint8_t {
    queued,     ///< queue it: the peer is online and has room
    not_online, ///< the peer is not (or no longer) online
    too_large,  ///< larger than the peer accepts (its TERMS_ACK, or `peer_max_frame`)
    overflow    ///< the peer cannot keep up: its queue is full and the session ends
};

/// The server's side of one connection, as a state machine without I/O.
///
/// Bytes and the current time go in (`feed`, `timer_fired`, the verdicts
/// of the authenticator and the registry); actions come out of `next()`,
/// one at a time, until it says `idle` or `read`. A driver (the watcher)
/// carries them out: it reads, writes, arms one timer per session, and
/// updates the registry. Every rule of the protocol's server side lives
/// here: the handshake and its deadline, duplicate ids, the frame-rate
/// limit, echoes, goodbyes, refusals and the linger of a closing session.
///
/// The phases: [handshake] -> hello -> authenticating -> admitting ->
/// online -> closing -> closed. The handshake phase exists only for
/// transports that have one (TLS); the hello deadline covers it too.
/// Authentication may complete asynchronously: the machine waits, holding
/// the rest of the input, and the deadline still runs.
///
/// A step allocates nothing: the actions sit in a fixed ring and the
/// frames the machine writes (echo, welcome, terms, probe, error, goodbye)
/// in a buffer of its own. (The one exception: a version 2 refusal for
/// server_full, whose RETRY_AFTER and ERROR go out together.) Views handed
/// out (`bytes()`, `id`) stay valid until the next call into the machine.
template <class Clock = std::chrono::steady_clock>
class server_session {
public:
    using clock_type = Clock;
    using duration = typename Clock::duration;
    using time_point = typename Clock::time_point;
    using action = server_action<Clock>;
    using kind = typename action::kind;

    struct options {
        /// A connection must complete the transport handshake (if any) and
        /// deliver a complete HELLO within this time.
        duration hello_timeout = std::chrono::seconds(5);
        /// How long a closing session may take to flush its last frame and
        /// see the peer's EOF.
        duration close_timeout = std::chrono::seconds(1);
        /// The largest frame payload accepted from the peer.
        std::size_t max_frame = wire::default_max_payload;
        /// The most bytes queued for the peer; an echo that would exceed it
        /// ends the session (a peer that beats but never reads).
        std::size_t max_send_queue = 1024 * 1024;
        /// Frames per second on average, with bursts of `max_frame_burst`
        /// (a token bucket refilled on every read); zero disables.
        std::uint32_t max_frame_rate = 5'000;
        std::uint32_t max_frame_burst = 5'000;
        /// How often a beat asks for a fresh RTT sample; zero never.
        duration rtt_sample_interval = std::chrono::seconds(10);
        duplicate_policy on_duplicate = duplicate_policy::replace;
        /// Close the session of a peer the registry timed out.
        bool close_on_timeout = true;
        /// Server-driven probes; zero, the default, never. A version 2 peer
        /// whose HELLO offered hello_flags::probes gets a PROBE frame (an
        /// urgent write) whenever it has been silent this long, and again
        /// every interval of continued silence; its BEAT answers it, so
        /// its own timers may run late (a browser tab in the background).
        /// Any other peer gets a `probe` action this often while online,
        /// the first one interval after WELCOME, for transports that probe
        /// by themselves (a WebSocket ping to a page that runs no library).
        duration probe_interval = duration::zero();
        /// The terms: the interval for a peer that announces none, and the
        /// miss count WELCOME states.
        duration default_interval = std::chrono::seconds(1);
        unsigned misses = 3;
        /// Version 2's WELCOME states these too: the silence tolerated
        /// beyond misses * interval, and how the server detects.
        duration grace = duration::zero();
        wire::detection_kind detection = wire::detection_kind::fixed;
        /// The highest protocol version granted to a client that asks
        /// (HELLO's v2 flag); 1 makes the server speak version 1 only.
        std::uint8_t max_version = wire::protocol_version_2;
        /// The largest payload the peer is assumed to accept until its
        /// TERMS_ACK says (always, for a version 1 peer).
        std::size_t peer_max_frame = wire::default_max_payload;
        /// Sent to a version 2 client ahead of ERROR(server_full): how long
        /// it should wait before it tries again. Zero sends none.
        duration server_full_retry_after = std::chrono::seconds(5);
    };

    /// The registry's answer to `admit`.
    struct admission {
        enum class outcome : std::uint8_t { admitted, taken, full };
        outcome result = outcome::admitted;
        duration held{}; ///< admitted: the interval the peer is held to (clamped)
    };

    enum class phase : std::uint8_t { handshake, hello, authenticating, admitting, online, closing, closed };

    explicit server_session(const options& o = {}) : server_session(std::make_shared<const options>(o)) {}

    /// Sessions of one server share their options (one copy, not one per
    /// connection).
    explicit server_session(std::shared_ptr<const options> o)
        : opts_(std::move(o)), decoder_(opts_->max_frame), peer_max_frame_(opts_->peer_max_frame)
    {
        if (opts_->max_version < wire::protocol_version_2)
            decoder_.limit_types(wire::last_v1_frame_type);
    }

    phase state() const noexcept { return phase_; }
    bool online() const noexcept { return phase_ == phase::online; }
    bool closed() const noexcept { return phase_ == phase::closed; }
    /// True while the peer holds a place in the registry.
    bool registered() const noexcept { return registered_; }
    /// Frames decoded so far (a counter for metrics).
    std::uint64_t frames_decoded() const noexcept { return frames_; }
    /// The protocol version the session runs (1 until a version 2 WELCOME).
    std::uint8_t version() const noexcept { return v2_ ? wire::protocol_version_2 : wire::protocol_version; }
    /// True if the session runs version 2 and the peer's HELLO offered to
    /// answer PROBEs: probe_interval then means PROBE frames, not `probe`.
    bool peer_answers_probes() const noexcept { return peer_answers_probes_; }
    /// The round trip to the peer as the protocol measures it (version 2:
    /// an ECHO's stamp returned in a later BEAT, less the client's hold;
    /// or as the transport timed its own probe, `probe_answered`).
    std::optional<duration> last_rtt() const noexcept { return rtt_.last(); }
    std::optional<duration> smoothed_rtt() const noexcept { return rtt_.smoothed(); }
    std::optional<duration> rtt_variation() const noexcept { return rtt_.variation(); }
    /// The largest payload the peer accepts (its TERMS_ACK, else the option).
    std::size_t peer_max_frame() const noexcept { return peer_max_frame_; }
    /// The terms the peer is held to now.
    duration held_interval() const noexcept { return held_.interval; }
    unsigned held_misses() const noexcept { return held_.misses; }
    /// The latest terms offered (WELCOME's or the last TERMS), which the
    /// peer is held to once it acknowledges shorter ones.
    duration latest_interval() const noexcept { return latest_.interval; }
    unsigned latest_misses() const noexcept { return latest_.misses; }

    // ---- inputs ----------------------------------------------------------

    /// The connection is open. With `transport_handshake`, the machine first
    /// asks for the transport's handshake.
    void start(time_point now, bool transport_handshake = false)
    {
        now_ = now;
        epoch_ = now;
        deadline_ = now + opts_->hello_timeout;
        push_wait();
        if (transport_handshake) {
            phase_ = phase::handshake;
            push(kind::handshake);
        }
        else {
            phase_ = phase::hello;
        }
    }

    /// The transport's handshake finished: `ok` false ends the session.
    void handshake_done(time_point now, bool ok);

    /// `n` bytes read at `now`; `end_of_stream` if the read also reported
    /// EOF or an error (the bytes are processed first). `queued` is how many
    /// bytes wait in the driver's send queue. The bytes must stay put until
    /// the machine asks to read again.
    void feed(const std::uint8_t* p, std::size_t n, time_point now, std::size_t queued, bool end_of_stream = false)
    {
        now_ = now;
        queued_ = queued;
        in_.fed(p, n, end_of_stream);
        if (n == 0)
            return;
        if (phase_ == phase::online) {
            push_touch(); // every byte is a sign of life, not only beats
            last_heard_ = now;
        }
        if (phase_ == phase::hello || phase_ == phase::online)
            refill_tokens(now);
    }

    /// The driver moved the bytes of the last feed (`size` of them) from
    /// `from` to `to`. The machine may point into them until it asks to
    /// read again (what is left of them, the HELLO's id and credential
    /// while the authenticator runs); a driver that reads every session
    /// into one buffer moves them out when the machine stops reading.
    void input_moved(const std::uint8_t* from, std::size_t size, const std::uint8_t* to) noexcept;

    /// A write failed: the transport is gone.
    void write_failed(time_point now)
    {
        now_ = now;
        transport_ended();
    }

    /// The timer armed by the last `wait_until` fired at `now`.
    void timer_fired(time_point now);

    /// Identity supplied by the transport (a WebSocket upgrade) instead of a
    /// HELLO frame: as if `h` had arrived.
    void identify(const wire::hello& h, time_point now)
    {
        now_ = now;
        if (phase_ == phase::hello)
            on_hello(h);
    }

    /// The authenticator's verdict: none accepts; `bad_id` refuses the id;
    /// any other error refuses with auth_failed.
    void authenticated(std::optional<error> verdict, time_point now);

    /// The registry's answer to `admit`.
    void admitted(const admission& r, time_point now);

    /// The answer to a `probe` arrived: a sign of life like any byte. With
    /// `rtt`, the round trip the transport timed for it (a WebSocket
    /// ping's pong), which feeds the smoothed RTT as a version 2 BEAT's
    /// sample does and is reported the same way (`measured_rtt`).
    void probe_answered(time_point now, std::optional<std::chrono::microseconds> rtt = std::nullopt);

    /// The registry reported this peer offline(timeout).
    void timed_out(time_point now);

    /// A newer session took this one's id.
    void replaced(time_point now);

    /// The server is stopping: welcomed peers get GOODBYE(shutting_down).
    void shutdown(time_point now);

    /// The application ends this online session: ERROR(`why`) if given and
    /// it has a wire code (has_wire_code: auth_failed, rate_limited, ...),
    /// else GOODBYE(kicked); the peer goes offline(kicked).
    /// @returns false if the session is not online.
    bool kick(time_point now, std::optional<error> why = std::nullopt);

    /// New terms for a version 2 peer: TERMS goes out; the peer is held to
    /// them at once if they are longer (misses * interval), else from its
    /// TERMS_ACK. `interval` must be one the policy holds peers to.
    /// @returns false if the session is not online in version 2.
    bool renegotiate(time_point now, duration interval, unsigned misses);

    /// The application wants to queue a message of `payload_size` bytes
    /// (`frame_size` with its header) with `queued` bytes already waiting.
    /// On `overflow` the session ends: see next().
    send_verdict accept_send(std::size_t payload_size, std::size_t frame_size, std::size_t queued, time_point now);

    // ---- output ----------------------------------------------------------

    /// The next action. Call until it returns `idle` or `read` (after a
    /// `read`, the next input is `feed`).
    action next();

private:
    bool awaiting_hello() const noexcept
    {
        return phase_ == phase::handshake || phase_ == phase::hello || waiting_for_verdict();
    }
    bool probing() const noexcept { return opts_->probe_interval > duration::zero(); }
    bool waiting_for_verdict() const noexcept
    {
        return phase_ == phase::authenticating || phase_ == phase::admitting || phase_ == phase::handshake;
    }


    void on_frame(const wire::frame_view& f);

    void on_hello(const wire::hello& h);

    void on_beat(const wire::frame_view& f);

    void on_terms_ack(const wire::frame_view& f);

    // The probe deadline fired for a peer that answers PROBE frames.
    void probe_due();

    // One round-trip sample, from either source.
    void add_rtt(duration sample) noexcept
    {
        measured_ = sample;
        rtt_.add(sample);
        push(kind::measured_rtt);
    }

    // A stamp the peer returned: one round-trip sample.
    void on_returned(const wire::returned_stamp& r);

    // The session's clock for stamps: microseconds since start, mod 2^32.
    std::uint32_t stamp_now() const noexcept
    {
        return static_cast<std::uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(now_ - epoch_).count());
    }

    struct held_terms {
        duration interval{};
        unsigned misses = 0;
        duration timeout() const noexcept { return interval * static_cast<typename duration::rep>(misses); }
    };

    void push_hold(const held_terms& t) noexcept
    {
        held_ = t;
        push(kind::hold);
    }

    // Refuse or drop the peer: an ERROR frame, then close.
    void fail(error e)
    {
        if (phase_ == phase::closing || phase_ == phase::closed)
            return;
        release(e == error::send_queue_full ? offline_reason::disconnected : offline_reason::protocol_error);
        close_after(e, true);
    }

    // Writes the last frame (frame_, or the shared ERROR frame for `cause`),
    // then closes (or closes at close_timeout).
    void close_after(error cause, bool shared_error);

    void transport_ended()
    {
        if (phase_ == phase::closed)
            return;
        end_now(std::nullopt, offline_reason::disconnected);
    }

    void end_now(std::optional<error> cause, offline_reason reason);

    void release(offline_reason reason);

    // The flood guard's token bucket, refilled once per read.
    void refill_tokens(time_point now) noexcept;

    std::uint8_t encode_goodbye(wire::goodbye_reason r) noexcept
    {
        const auto bye = wire::encode_goodbye(r);
        std::copy(bye.begin(), bye.end(), frame_.begin());
        return static_cast<std::uint8_t>(bye.size());
    }

    // The actions decided and not yet handed out: a set, taken in the one
    // order every rule needs (life first, then the verdicts, the registry,
    // the timer, the frames, the end). An input decides each kind at most
    // once, and the set is drained before the next frame is read, so a
    // connection carries a few bytes of pending state, not a queue.
    static constexpr kind hand_out_order[] = {kind::touch,      kind::authenticate, kind::admit,       kind::hold,
                                              kind::release,    kind::wait_until,   kind::write,       kind::deliver,
                                              kind::sample_rtt, kind::measured_rtt, kind::probe,       kind::handshake,
                                              kind::close_after, kind::close};
    // A kind's bit is its rank in hand_out_order, so the next action to
    // hand out is the lowest bit set.
    static constexpr std::uint32_t bit(kind k) noexcept
    {
        unsigned rank = 0;
        while (hand_out_order[rank] != k)
            ++rank;
        return std::uint32_t{1} << rank;
    }
    static constexpr std::array<std::uint32_t, 32> make_bits() noexcept
    {
        std::array<std::uint32_t, 32> b{};
        for (const kind k : hand_out_order)
            b[static_cast<std::size_t>(k)] = bit(k);
        return b;
    }
    static constexpr std::array<std::uint32_t, 32> bits = make_bits();
    static unsigned lowest_bit(std::uint32_t v) noexcept
    {
#if defined(__GNUC__) || defined(__clang__)
        return static_cast<unsigned>(__builtin_ctz(v));
#else
        unsigned i = 0;
        for (; (v & 1u) == 0; v >>= 1)
            ++i;
        return i;
#endif
    }

    action take(kind k) const noexcept;

    void push(kind k) noexcept { pending_ |= bits[static_cast<std::size_t>(k)]; }
    // The timer is always armed for deadline_ (the hello deadline, the
    // close deadline or the next probe), and the peer touched and admitted
    // at the instant of the input that decided it.
    void push_timer(bool cancel) noexcept
    {
        timer_cancel_ = cancel;
        push(kind::wait_until);
    }
    void push_wait() noexcept { push_timer(false); }
    void push_touch() noexcept { push(kind::touch); }
    void push_write(bool urgent) noexcept
    {
        assert(!(pending_ & bits[static_cast<std::size_t>(kind::write)]) && "heartbeat: two frames decided in one step");
        write_urgent_ = urgent;
        push(kind::write);
    }
    static std::uint8_t cause_byte(std::optional<error> cause) noexcept
    {
        return cause ? static_cast<std::uint8_t>(*cause) : std::uint8_t{0};
    }

    std::shared_ptr<const options> opts_;
    wire::decoder decoder_;
    std::uint32_t pending_ = 0;
    bool timer_cancel_ = false;
    bool write_urgent_ = false;
    bool last_is_error_ = false; // close_after writes the shared ERROR frame for last_cause_
    bool last_is_composed_ = false; // close_after writes composed_ (RETRY_AFTER, then ERROR)
    bool v2_ = false;            // the peer asked for version 2 and we granted it
    bool peer_answers_probes_ = false; // v2_, and the HELLO offered hello_flags::probes
    bool ack_shortens_ = false;  // the latest TERMS are shorter: held_ moves on its ack
    offline_reason release_reason_{};
    std::uint8_t last_cause_ = 0;  // an error's value; 0: a normal end
    std::uint8_t close_cause_ = 0;
    phase phase_ = phase::hello;
    bool registered_ = false;
    detail::session_input in_;
    time_point now_{};
    time_point deadline_{}; // the hello deadline, the next probe's, then the close deadline
    time_point last_heard_{}; // the last byte read from the welcomed peer (or its probe's answer)
    std::size_t queued_ = 0;
    std::uint64_t frames_ = 0;
    time_point rtt_sampled_{};
    time_point epoch_{}; // stamps count from here
    detail::rtt_estimator<duration> rtt_;
    held_terms held_{};    // what the registry holds the peer to
    held_terms latest_{};  // the latest terms sent (WELCOME's, or TERMS)
    std::uint16_t terms_sent_ = 0; // the id of the latest TERMS (0: WELCOME's)
    std::uint32_t probes_sent_ = 0; // the seq of the latest PROBE (in the padding before the size_t)
    std::size_t peer_max_frame_ = 0;
    duration measured_{};  // the sample measured_rtt hands out
    time_point refilled_{};
    bool sampled_once_ = false;
    bool refilled_once_ = false;
    double tokens_ = 0;
    duration announced_{};
    // Views into the HELLO (the driver's read buffer or the decoder's),
    // which stay put until the verdicts are in: the machine reads nothing
    // more meanwhile.
    std::string_view id_;
    std::string_view credential_;
    const std::uint8_t* payload_ = nullptr; // the DATA being delivered
    std::size_t payload_size_ = 0;
    // The one frame the machine writes at a time (ECHO, WELCOME, TERMS,
    // PROBE or GOODBYE; ERROR frames are constant per code and shared);
    // the driver copies it before the machine's next step.
    std::array<std::uint8_t, wire::header_size + wire::welcome_v2_payload_size> frame_{};
    std::uint8_t frame_size_ = 0;
    // Only a refused version 2 peer's last words need two frames.
    std::vector<std::uint8_t> composed_;
};

} // namespace heartbeat

#include <heartbeat/session/impl/server_session.hpp>

#endif
