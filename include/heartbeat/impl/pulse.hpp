// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_IMPL_PULSE_HPP
#define HEARTBEAT_IMPL_PULSE_HPP

// The pulse's driver: reads, feeds the client_session, and carries out its
// actions (writes, one timer, callbacks, the end of the run). Every rule of
// the client side is the machine's.

#include <heartbeat/pulse.hpp>

#include <memory>
#include <utility>
#include <vector>

namespace heartbeat {

template <class Stream, class Clock, class Policy>
struct pulse<Stream, Clock, Policy>::state : std::enable_shared_from_this<state> {
    using action = typename session_type::action;
    using kind = typename action::kind;
    using ending = typename action::ending;

    state(Stream s, options o)
        : stream(std::move(s)), strand(net::make_strand(stream.get_executor())), opts(std::move(o)), machine(opts),
          timer(strand), read_buffer(opts.read_buffer_size)
    {
        detail::disable_nagle(stream);
        publish();
    }

    Stream stream;
    executor_type strand;
    options opts;
    session_type machine;
    net::basic_waitable_timer<Clock, net::wait_traits<Clock>, executor_type> timer;
    std::vector<std::uint8_t> read_buffer;
    detail::outbox out;
    detail::erased_handler<error_code> run_handler;
    std::function<void(std::string_view)> cb_message;
    std::function<void(duration, unsigned)> cb_welcome;
    std::function<void(duration, unsigned)> cb_terms;
    error_code transport_error; // the last read or write failure, reported if it ends the session
    bool in_loop = false;
    bool stream_open = true;

    // Mirrors of the machine's state for queries from any thread.
    std::atomic<bool> established{false};
    std::atomic<rep> last_rtt{-1};
    std::atomic<rep> srtt{-1};
    std::atomic<rep> rttvar{-1};
    std::atomic<rep> retry_after{-1};
    std::atomic<std::uint8_t> version{wire::protocol_version};
    // What async_send may pass: ours, or less if the server said so.
    std::atomic<std::size_t> send_limit{0};
    std::atomic<rep> interval_ticks{0};
    std::atomic<unsigned> misses{3};
    std::atomic<std::uint64_t> beats_sent{0};
    std::atomic<std::uint64_t> echoes{0};

    void publish() noexcept
    {
        const auto rtt = machine.last_rtt();
        last_rtt.store(rtt ? rtt->count() : -1, std::memory_order_relaxed);
        const auto smoothed = machine.smoothed_rtt();
        srtt.store(smoothed ? smoothed->count() : -1, std::memory_order_relaxed);
        const auto var = machine.rtt_variation();
        rttvar.store(var ? var->count() : -1, std::memory_order_relaxed);
        const auto wait = machine.retry_after();
        retry_after.store(wait ? wait->count() : -1, std::memory_order_relaxed);
        version.store(machine.version(), std::memory_order_relaxed);
        const auto theirs = machine.server_max_frame();
        send_limit.store(theirs ? std::min(*theirs, opts.peer_max_frame) : opts.peer_max_frame,
                         std::memory_order_relaxed);
        interval_ticks.store(machine.interval().count(), std::memory_order_relaxed);
        misses.store(machine.misses(), std::memory_order_relaxed);
        beats_sent.store(machine.beats_sent(), std::memory_order_relaxed);
        echoes.store(machine.echoes_received(), std::memory_order_relaxed);
    }

    // ---- the action loop --------------------------------------------------

    void run()
    {
        if (in_loop)
            return;
        in_loop = true;
        while (carry_out(machine.next())) {
        }
        in_loop = false;
        publish();
    }

    bool carry_out(const action& a)
    {
        switch (a.type) {
        case kind::idle: return false;
        case kind::read: read(); return false;
        case kind::write:
            out.push_frame(a.data, a.size, a.urgent);
            flush();
            return true;
        case kind::deliver:
            if (cb_message)
                cb_message(a.bytes());
            return true;
        case kind::established:
            established = true;
            publish();
            if (cb_welcome)
                cb_welcome(a.interval, a.misses);
            return true;
        case kind::terms_changed:
            publish();
            if (cb_terms)
                cb_terms(a.interval, a.misses);
            return true;
        case kind::wait_until: arm(a.at); return true;
        case kind::cancel_timer: timer.cancel(); return true;
        case kind::close_after:
            out.close_after(a.data, a.size);
            flush();
            return true;
        case kind::finish: finish(a); return true;
        }
        return false;
    }

    // ---- inputs -----------------------------------------------------------

    void start()
    {
        machine.start(Clock::now());
        run();
    }

    void leave()
    {
        machine.leave(Clock::now());
        run();
    }

    void abort()
    {
        machine.abort();
        run();
    }

    void read()
    {
        stream.async_read_some(net::buffer(read_buffer),
                               net::bind_executor(strand, [self = this->shared_from_this()](const error_code& ec,
                                                                                            std::size_t n) {
                                   self->on_read(ec, n);
                               }));
    }

    void on_read(const error_code& ec, std::size_t n)
    {
        if (!stream_open)
            return;
        if (ec)
            transport_error = ec;
        machine.feed(read_buffer.data(), n, Clock::now(), static_cast<bool>(ec));
        run();
    }

    void arm(time_point at)
    {
        timer.expires_at(at);
        timer.async_wait([self = this->shared_from_this()](const error_code& ec) {
            if (ec || !self->stream_open)
                return;
            self->machine.timer_fired(Clock::now());
            self->run();
        });
    }

    // ---- writing ------------------------------------------------------------

    void flush()
    {
        if (!stream_open || !out.ready())
            return;
        machine.write_started(Clock::now());
        out.start(stream, net::bind_executor(strand, [self = this->shared_from_this()](const error_code& ec,
                                                                                       std::size_t) {
                      const auto next = self->out.completed(ec);
                      if (!self->stream_open)
                          return;
                      if (next == detail::outbox::outcome::last_frame_out)
                          detail::close_send(self->stream, net::bind_executor(self->strand, [self](error_code) {}));
                      if (next == detail::outbox::outcome::failed) {
                          self->transport_error = ec;
                          self->machine.write_failed(Clock::now());
                      }
                      else {
                          self->machine.write_done(Clock::now());
                      }
                      self->run();
                      if (next == detail::outbox::outcome::more)
                          self->flush();
                  }));
    }

    void send(detail::shared_bytes frame, detail::erased_handler<error_code> done)
    {
        if (!frame) {
            done.complete(error::message_too_large);
            return;
        }
        if (!machine.can_send()) {
            done.complete(machine.state() == session_type::phase::done ? error_code(net::error::not_connected)
                                                                      : error_code(net::error::try_again));
            return;
        }
        out.queue().push(std::move(frame), std::move(done));
        flush();
    }

    // ---- ending ---------------------------------------------------------------

    void finish(const action& a)
    {
        established = false;
        stream_open = false;
        timer.cancel();
        detail::close_stream(stream);
        out.abandon();
        error_code ec;
        switch (a.end) {
        case ending::none:
        case ending::success: break;
        case ending::error: ec = a.code; break;
        case ending::transport: ec = transport_error ? transport_error : error_code(net::error::eof); break;
        case ending::aborted: ec = net::error::operation_aborted; break;
        }
        publish(); // the queries already tell the ending's figures (retry_after)
        run_handler.complete(ec);
    }
};

template <class Stream, class Clock, class Policy>
struct pulse<Stream, Clock, Policy>::run_initiation {
    std::shared_ptr<state> s;
    using executor_type = typename pulse::executor_type;
    executor_type get_executor() const noexcept { return s->strand; }

    template <class Handler>
    void operator()(Handler&& h) const
    {
        auto self = s;
        detail::erased_handler<error_code> erased(std::forward<Handler>(h), self->strand);
        net::dispatch(self->strand, [self, erased = std::move(erased)]() mutable {
            if (self->machine.state() != session_type::phase::idle || self->run_handler) {
                erased.complete(net::error::in_progress); // one run per pulse
                return;
            }
            self->run_handler = std::move(erased);
            self->start();
        });
    }
};

template <class Stream, class Clock, class Policy>
struct pulse<Stream, Clock, Policy>::send_initiation {
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

} // namespace heartbeat

#endif
