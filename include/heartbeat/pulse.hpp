// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_PULSE_HPP
#define HEARTBEAT_PULSE_HPP

#include <heartbeat/core/fixed_misses.hpp>
#include <heartbeat/detail/config.hpp>
#include <heartbeat/detail/erased_handler.hpp>
#include <heartbeat/detail/send_queue.hpp>
#include <heartbeat/detail/stream.hpp>
#include <heartbeat/error.hpp>
#include <heartbeat/wire/decoder.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
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
        /// Bytes read per read operation.
        std::size_t read_buffer_size = 1024;
        /// How long leave() waits for GOODBYE to be written.
        duration close_timeout = std::chrono::seconds(1);
        /// Settings of an adaptive detection policy (unused by fixed_misses).
        typename Policy::options detection{};
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

    /// DATA frames from the server (framed mode). Set before async_run.
    void on_message(std::function<void(std::string_view)> f) { state_->cb_message = std::move(f); }
    /// Called once WELCOME has arrived, with the terms the server stated.
    void on_welcome(std::function<void(duration interval, unsigned misses)> f) { state_->cb_welcome = std::move(f); }

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
    /// Call it once per pulse. The default completion token is the stream
    /// executor's (so a `use_awaitable_t<>::as_default_on_t<tcp::socket>`
    /// stream makes `co_await pulse.async_run()` work).
    template <class CompletionToken = net::default_completion_token_t<typename Stream::executor_type>>
    auto async_run(CompletionToken&& token = net::default_completion_token_t<typename Stream::executor_type>{})
    {
        return net::async_initiate<CompletionToken, void(error_code)>(run_initiation{state_}, token);
    }

    /// Sends `bytes` as one DATA frame. Completion signature:
    /// `void(error_code)`, once written (or failed). The bytes are copied.
    template <class CompletionToken = net::default_completion_token_t<typename Stream::executor_type>>
    auto async_send(std::string_view bytes,
                    CompletionToken&& token = net::default_completion_token_t<typename Stream::executor_type>{})
    {
        auto frame = std::make_shared<std::vector<std::uint8_t>>(wire::header_size + bytes.size());
        wire::encode_header(frame->data(), wire::frame_type::data, std::min(bytes.size(), wire::max_encodable_payload));
        std::copy(bytes.begin(), bytes.end(), frame->begin() + wire::header_size);
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
        net::dispatch(state_->strand, [s = state_] { s->finish(net::error::operation_aborted); });
    }

    // ---- queries: any thread -------------------------------------------

    /// True between WELCOME and the end of the session.
    bool is_established() const noexcept { return state_->established.load(); }

    /// The round-trip time of the last echoed beat, if any.
    std::optional<duration> last_rtt() const noexcept { return load(state_->last_rtt); }

    /// A smoothed round-trip time (RFC 6298 style, gain 1/8).
    std::optional<duration> smoothed_rtt() const noexcept { return load(state_->srtt); }

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

    enum class phase { idle, hello, running, leaving, done };

    struct state : std::enable_shared_from_this<state> {
        state(Stream s, options o)
            : stream(std::move(s)), strand(net::make_strand(stream.get_executor())), opts(std::move(o)),
              decoder(opts.max_frame), beat_timer(strand), watchdog(strand), read_buffer(opts.read_buffer_size),
              policy(opts.detection), learned(policy.initial_state())
        {
            interval_ticks = opts.interval.count();
            misses = opts.misses;
        }

        Stream stream;
        executor_type strand;
        options opts;
        wire::decoder decoder;
        net::basic_waitable_timer<Clock, net::wait_traits<Clock>, executor_type> beat_timer;
        net::basic_waitable_timer<Clock, net::wait_traits<Clock>, executor_type> watchdog;
        std::vector<std::uint8_t> read_buffer;
        detail::send_queue out;
        detail::erased_handler<error_code> run_handler;
        std::function<void(std::string_view)> cb_message;
        std::function<void(duration, unsigned)> cb_welcome;
        phase ph = phase::idle;

        // What an adaptive policy has learned of the server's answers.
        static constexpr bool counts_echoes = std::is_same_v<Policy, fixed_misses<Clock>>;
        Policy policy;
        typename Policy::peer_state learned;
        time_point last_answer{};

        // Beats: queued (not yet written), in the write in flight, and
        // written but not yet answered (with the time the write completed).
        std::uint32_t next_seq = 1;
        std::optional<std::uint32_t> queued_beat;
        std::optional<std::uint32_t> writing_beat;
        struct sent_beat {
            std::uint32_t seq;
            time_point written;
        };
        std::deque<sent_beat> unanswered;
        bool wrote_this_interval = false;
        bool heard_this_interval = false;

        std::atomic<bool> established{false};
        std::atomic<rep> last_rtt{-1};
        std::atomic<rep> srtt{-1};
        std::atomic<rep> interval_ticks{0};
        std::atomic<unsigned> misses{3};
        std::atomic<std::uint64_t> beats_sent{0};
        std::atomic<std::uint64_t> echoes{0};

        duration current_interval() const { return duration(interval_ticks.load()); }

        void start()
        {
            if (opts.id.empty() || opts.id.size() > wire::max_id_size
                || opts.credential.size() > wire::max_credential_size) {
                ph = phase::done;
                run_handler.complete(error::bad_id);
                return;
            }
            ph = phase::hello;
            auto hello = std::make_shared<std::vector<std::uint8_t>>();
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(opts.interval).count();
            wire::append_hello(*hello, {wire::protocol_version,
                                        static_cast<std::uint32_t>(std::clamp<long long>(ms, 0, 0xFFFF'FFFFLL)),
                                        opts.id, opts.credential});
            out.push(std::move(hello));
            flush();
            watchdog.expires_after(opts.hello_timeout);
            watchdog.async_wait([self = this->shared_from_this()](const error_code& ec) {
                if (!ec && self->ph == phase::hello)
                    self->finish(error::hello_timeout);
            });
            read();
        }

        // ---- reading --------------------------------------------------------

        void read()
        {
            stream.async_read_some(net::buffer(read_buffer),
                                   net::bind_executor(strand, [self = this->shared_from_this()](
                                                                  const error_code& ec, std::size_t n) {
                                       self->on_read(ec, n);
                                   }));
        }

        void on_read(const error_code& ec, std::size_t n)
        {
            if (ph == phase::done)
                return;
            bool life = false;
            const auto st = decoder.feed(read_buffer.data(), n, [&](const wire::frame_view& f) {
                if (ph == phase::done)
                    return;
                if (f.type != wire::frame_type::echo)
                    life = true;
                on_frame(f);
            });
            if (ph == phase::done)
                return;
            if (st != wire::decode_status::ok)
                return finish(to_error(st));
            if (decoder.mid_frame())
                life = true; // part of a larger frame: the server is talking
            if (n != 0)
                heard_this_interval = true;
            if (life && ph == phase::running) {
                unanswered.clear();
                answered(Clock::now());
            }
            if (ec)
                return finish(ph == phase::leaving ? error_code() : ec);
            read();
        }

        void on_frame(const wire::frame_view& f)
        {
            using wire::frame_type;
            if (ph == phase::hello) {
                if (f.type == frame_type::welcome) {
                    wire::welcome w;
                    const auto st = wire::parse_welcome(f, w);
                    if (st != wire::decode_status::ok)
                        return finish(to_error(st));
                    return on_welcome(w);
                }
                if (f.type == frame_type::error)
                    return on_error_frame(f);
                return finish(error::protocol_error);
            }
            if (ph == phase::leaving && f.type == frame_type::welcome)
                return; // leave() overtook the handshake; GOODBYE is on its way
            switch (f.type) {
            case frame_type::echo: {
                std::uint32_t seq = 0;
                if (wire::parse_sequence(f, seq) != wire::decode_status::ok)
                    return finish(error::protocol_error);
                return on_echo(seq);
            }
            case frame_type::data:
                if (cb_message)
                    cb_message(std::string_view(reinterpret_cast<const char*>(f.payload), f.size));
                return;
            case frame_type::error: return on_error_frame(f);
            case frame_type::goodbye: {
                wire::goodbye_reason r{};
                if (wire::parse_goodbye(f, r) != wire::decode_status::ok)
                    return finish(error::protocol_error);
                if (ph == phase::leaving)
                    return finish(error_code{}); // we were leaving anyway
                return finish(r == wire::goodbye_reason::replaced        ? error::replaced
                              : r == wire::goodbye_reason::shutting_down ? error::shutting_down
                                                                         : error::peer_left);
            }
            default: return finish(error::protocol_error);
            }
        }

        void on_error_frame(const wire::frame_view& f)
        {
            wire::error_frame e;
            if (wire::parse_error(f, e) != wire::decode_status::ok)
                return finish(error::protocol_error);
            finish(from_wire(e.code));
        }

        void on_welcome(const wire::welcome& w)
        {
            ph = phase::running;
            const duration iv = std::chrono::duration_cast<duration>(std::chrono::milliseconds(w.interval_ms));
            interval_ticks = iv.count();
            misses = w.misses;
            established = true;
            watchdog.cancel();
            last_answer = Clock::now();
            if constexpr (!counts_echoes) {
                learned = policy.initial_state();
                policy.set_interval(learned, iv);
                policy.on_online(learned, last_answer);
            }
            if (cb_welcome)
                cb_welcome(iv, w.misses);
            if (ph == phase::running) {
                schedule_beat();
                arm_watchdog();
            }
        }

        // Echoes are matched by sequence number: an echo answers its beat
        // and every older one, never a newer one.
        void on_echo(std::uint32_t seq)
        {
            ++echoes;
            const time_point now = Clock::now();
            const bool newest = !unanswered.empty() && unanswered.back().seq == seq;
            while (!unanswered.empty() && static_cast<std::int32_t>(unanswered.front().seq - seq) <= 0) {
                if (unanswered.front().seq == seq)
                    record_rtt(now - unanswered.front().written);
                unanswered.pop_front();
            }
            if (newest)
                answered(now);
            else
                arm_watchdog();
        }

        // The server has answered everything we sent: an arrival for an
        // adaptive policy.
        void answered(time_point now)
        {
            if constexpr (!counts_echoes) {
                if (now > last_answer)
                    policy.on_beat(learned, last_answer, now);
            }
            last_answer = std::max(last_answer, now);
            arm_watchdog();
        }

        void record_rtt(duration rtt)
        {
            last_rtt = rtt.count();
            const rep old = srtt.load();
            srtt = old < 0 ? rtt.count() : old + (rtt.count() - old) / 8;
        }

        // ---- beating --------------------------------------------------------

        void schedule_beat()
        {
            beat_timer.expires_after(current_interval());
            beat_timer.async_wait([self = this->shared_from_this()](const error_code& ec) {
                if (!ec && self->ph == phase::running)
                    self->on_beat_due();
            });
        }

        void on_beat_due()
        {
            const bool busy_both_ways = wrote_this_interval && heard_this_interval;
            wrote_this_interval = false;
            heard_this_interval = false;
            // At most one beat waits for the write in flight; it goes out
            // ahead of queued DATA as soon as that write completes.
            if (!(opts.beat_only_when_idle && busy_both_ways) && !queued_beat) {
                const std::uint32_t seq = next_seq++;
                const auto frame = wire::encode_beat(seq);
                out.push_urgent(frame.data(), frame.size());
                queued_beat = seq;
                flush();
            }
            schedule_beat();
        }

        // With fixed misses the watchdog fires when the misses-th unanswered
        // beat's echo is overdue: its write completed more than one interval
        // ago.
        void arm_watchdog()
        {
            if (ph != phase::running)
                return;
            if constexpr (counts_echoes) {
                const unsigned n = misses.load();
                if (unanswered.size() < n) {
                    watchdog.cancel();
                    return;
                }
                watchdog.expires_at(unanswered[n - 1].written + current_interval());
            }
            else {
                // Lost when the policy gives up on the last answer.
                watchdog.expires_at(policy.offline_at(learned, last_answer));
            }
            watchdog.async_wait([self = this->shared_from_this()](const error_code& ec) {
                if (!ec && self->ph == phase::running)
                    self->finish(error::peer_lost);
            });
        }

        // ---- writing ----------------------------------------------------------

        void flush()
        {
            if (out.writing() || out.empty() || ph == phase::done)
                return;
            writing_beat = queued_beat; // urgent frames lead every batch
            queued_beat.reset();
            wrote_this_interval = true;
            net::async_write(stream, out.prepare(),
                             net::bind_executor(strand, [self = this->shared_from_this()](const error_code& ec,
                                                                                          std::size_t) {
                                 self->on_written(ec);
                             }));
        }

        void on_written(const error_code& ec)
        {
            out.consume(ec);
            if (ph == phase::done)
                return;
            if (ec)
                return finish(ec);
            if (writing_beat) {
                // The echo's clock starts when the beat has left, not when
                // it was queued.
                unanswered.push_back({*writing_beat, Clock::now()});
                writing_beat.reset();
                ++beats_sent;
                arm_watchdog();
            }
            if (ph == phase::leaving && out.empty()) {
                // GOODBYE is out: half-close and read on until the server
                // closes, so no unread byte turns our close into a reset
                // that could overtake the goodbye.
                detail::shutdown_send(stream);
                return;
            }
            flush();
        }

        void send(detail::shared_bytes frame, detail::erased_handler<error_code> done)
        {
            if (ph != phase::running) {
                done.complete(ph == phase::done ? error_code(net::error::not_connected)
                                                : error_code(net::error::try_again));
                return;
            }
            out.push(std::move(frame), std::move(done));
            flush();
        }

        // ---- ending -------------------------------------------------------------

        void leave()
        {
            if (ph == phase::done || ph == phase::leaving)
                return;
            if (ph == phase::idle) {
                ph = phase::done;
                detail::close_stream(stream);
                return;
            }
            ph = phase::leaving;
            beat_timer.cancel();
            out.fail_pending(net::error::operation_aborted);
            queued_beat.reset();
            const auto bye = wire::encode_goodbye(wire::goodbye_reason::normal);
            out.push(std::make_shared<std::vector<std::uint8_t>>(bye.begin(), bye.end()));
            watchdog.expires_after(opts.close_timeout);
            watchdog.async_wait([self = this->shared_from_this()](const error_code& ec) {
                if (!ec && self->ph == phase::leaving)
                    self->finish(error_code{});
            });
            flush();
        }

        void finish(error_code ec)
        {
            if (ph == phase::done)
                return;
            ph = phase::done;
            established = false;
            beat_timer.cancel();
            watchdog.cancel();
            detail::close_stream(stream);
            out.fail_pending(net::error::operation_aborted);
            run_handler.complete(ec);
        }
    };

    struct run_initiation {
        std::shared_ptr<state> s;
        using executor_type = typename pulse::executor_type;
        executor_type get_executor() const noexcept { return s->strand; }

        template <class Handler>
        void operator()(Handler&& h) const
        {
            auto self = s;
            detail::erased_handler<error_code> erased(std::forward<Handler>(h), self->strand);
            net::dispatch(self->strand, [self, erased = std::move(erased)]() mutable {
                if (self->ph != phase::idle || self->run_handler) {
                    erased.complete(net::error::in_progress); // one run per pulse
                    return;
                }
                self->run_handler = std::move(erased);
                self->start();
            });
        }
    };

    struct send_initiation {
        std::shared_ptr<state> s;
        using executor_type = typename pulse::executor_type;
        executor_type get_executor() const noexcept { return s->strand; }

        template <class Handler>
        void operator()(Handler&& h, detail::shared_bytes frame) const
        {
            auto self = s;
            detail::erased_handler<error_code> erased(std::forward<Handler>(h), self->strand);
            net::dispatch(self->strand, [self, frame = std::move(frame), erased = std::move(erased)]() mutable {
                self->send(std::move(frame), std::move(erased));
            });
        }
    };

    std::shared_ptr<state> state_;
};

} // namespace heartbeat

#endif
