// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_IMPL_RECONNECTING_CLIENT_HPP
#define HEARTBEAT_IMPL_RECONNECTING_CLIENT_HPP

// reconnecting_client's state and its attempt cycle: resolve, connect, the
// connector's stream and handshake, the pulse, and the backoff between.

#include <heartbeat/reconnecting_client.hpp>

#include <utility>

namespace heartbeat {

template <class Clock, class Connector>
struct reconnecting_client<Clock, Connector>::state : std::enable_shared_from_this<state> {
    state(const net::any_io_executor& ex, options o, Connector c)
        : strand(net::make_strand(ex)), opts(std::move(o)), connector(std::move(c)), resolver(strand),
          timer(strand), pacing({opts.backoff_initial, opts.backoff_max, opts.backoff_multiplier}, opts.seed)
    {
    }

    executor_type strand;
    options opts;
    Connector connector;
    net::ip::tcp::resolver resolver;
    net::basic_waitable_timer<Clock, net::wait_traits<Clock>, executor_type> timer;
    std::unique_ptr<socket_type> connecting;
    std::unique_ptr<stream_type> handshaking;
    std::shared_ptr<pulse_type> session; // shared: queries read it from other threads
    std::mutex current_mu; // guards `current`, read by queries
    std::shared_ptr<pulse_type> current;

    void publish(std::shared_ptr<pulse_type> p)
    {
        std::lock_guard<std::mutex> lock(current_mu);
        current = std::move(p);
    }
    detail::backoff<duration> pacing;
    bool stopped = false;
    // The attempt in progress (resolve, connect, handshake) and whether
    // its connect_timeout fired; numbered so that a timeout completion
    // already queued when its attempt ended (or its session started) is
    // recognised as stale.
    std::uint64_t attempt_number = 0;
    bool attempt_timed_out = false;
    unsigned failures = 0; // since the last WELCOME
    std::uint64_t session_number = 0;
    std::atomic<bool> established{false};
    std::atomic<std::uint64_t> welcomed{0};
    std::function<void()> cb_connected;
    std::function<void(error_code)> cb_lost;
    std::function<void(error_code, unsigned)> cb_failed;
    std::function<void(unsigned, duration)> cb_reconnecting;
    std::function<void(error_code, unsigned)> cb_gave_up;
    std::function<void(std::string_view)> cb_message;
    // The server's retry-after from the session that just ended, if it
    // sent one; it paces only the retry that follows that session.
    std::optional<duration> server_retry_after;

    void connect()
    {
        if (stopped || session || connecting || handshaking)
            return;
        attempt_timed_out = false;
        timer.expires_after(opts.connect_timeout);
        timer.async_wait([self = this->shared_from_this(), n = ++attempt_number](const error_code& ec) {
            if (ec || self->stopped || n != self->attempt_number)
                return;
            // Too slow: abandon this attempt; its handlers then fail.
            self->attempt_timed_out = true;
            self->resolver.cancel();
            if (self->connecting) {
                error_code ignored;
                self->connecting->close(ignored);
            }
            if (self->handshaking)
                detail::close_stream(*self->handshaking);
        });
        resolver.async_resolve(
            opts.host, opts.port,
            [self = this->shared_from_this()](const error_code& ec, net::ip::tcp::resolver::results_type r) {
                if (self->stopped)
                    return;
                if (ec)
                    return self->attempt_failed(ec);
                self->connecting = std::make_unique<socket_type>(self->strand);
                net::async_connect(*self->connecting, r,
                                   [self](const error_code& cec, const net::ip::tcp::endpoint&) {
                                       self->on_connect(cec);
                                   });
            });
    }

    void on_connect(const error_code& ec)
    {
        auto sock = std::move(connecting);
        if (stopped)
            return;
        if (ec) {
            timer.cancel();
            return attempt_failed(ec);
        }
        error_code made;
        auto stream = std::make_unique<stream_type>(connector.make_stream(std::move(*sock), opts.host, made));
        if (made) {
            timer.cancel();
            return attempt_failed(made);
        }
        if constexpr (detail::has_client_handshake<stream_type>::value) {
            handshaking = std::move(stream);
            handshaking->async_handshake(
                stream_type::client, net::bind_executor(strand, [self = this->shared_from_this()](
                                                                    const error_code& hec) {
                    auto done = std::move(self->handshaking);
                    self->timer.cancel();
                    if (self->stopped)
                        return;
                    if (hec)
                        return self->attempt_failed(explain(self->connector, *done, hec, 0));
                    self->start_session(std::move(*done));
                }));
        }
        else {
            timer.cancel();
            start_session(std::move(*stream));
        }
    }

    // A connector may say more precisely why its handshake failed.
    template <class C>
    static auto explain(C& c, stream_type& s, const error_code& ec, int) -> decltype(c.explain_failure(s, ec))
    {
        return c.explain_failure(s, ec);
    }
    template <class C>
    static error_code explain(C&, stream_type&, const error_code& ec, long)
    {
        return ec;
    }

    void attempt_failed(error_code ec)
    {
        if (attempt_timed_out)
            ec = net::error::timed_out;
        attempt_timed_out = false;
        ++failures;
        if (cb_failed)
            cb_failed(ec, failures);
        retry_or_give_up(ec, failures);
    }

    void retry_or_give_up(const error_code& ec, unsigned attempt)
    {
        // on_attempt_failed / on_lost may have called stop(): that wins,
        // and there is nobody left to tell.
        if (stopped)
            return;
        if (!opts.retry_policy || opts.retry_policy(ec, attempt) == retry_decision::retry)
            return retry();
        if (stopped) // the policy itself called stop()
            return;
        // Give up as stop() would, then say so last: shutdown() clears
        // every callback, so nothing can run after on_gave_up.
        auto gave_up = std::move(cb_gave_up);
        shutdown();
        if (gave_up)
            gave_up(ec, attempt);
    }

    void start_session(stream_type&& stream)
    {
        // From here the session's own errors count: a timeout still queued
        // is stale.
        ++attempt_number;
        attempt_timed_out = false;
        session = std::make_shared<pulse_type>(std::move(stream), opts.session);
        publish(session);
        std::weak_ptr<state> weak = this->shared_from_this();
        session->on_message([weak](std::string_view m) {
            auto self = weak.lock();
            if (self && !self->stopped && self->cb_message)
                self->cb_message(m);
        });
        session->on_welcome([weak](duration, unsigned) {
            auto self = weak.lock();
            if (!self || self->stopped)
                return;
            self->pacing.reset();
            self->failures = 0;
            self->established = true;
            ++self->welcomed;
            if (self->cb_connected)
                self->cb_connected();
        });
        // The handler names its session by number: holding the pulse
        // itself would make a cycle (the pulse holds its run handler)
        // that leaks both if the io_context is destroyed first.
        session->async_run([weak, n = ++session_number](const error_code& rec) {
            if (auto self = weak.lock())
                self->on_session_end(n, rec);
        });
    }

    void on_session_end(std::uint64_t n, const error_code& ec)
    {
        if (n != session_number || !session)
            return;
        const bool was_established = established.exchange(false);
        server_retry_after = session->retry_after();
        session.reset();
        publish(nullptr);
        if (stopped)
            return;
        if (!was_established)
            return attempt_failed(ec);
        if (cb_lost)
            cb_lost(ec);
        retry_or_give_up(ec, 0);
    }

    void retry()
    {
        if (stopped)
            return;
        // The backoff still counts this retry, so a server that stops
        // asking for patience is met by the grown backoff, not the first.
        // The server's wish is spread: clients it refused in one burst (an
        // overloaded server refuses every newcomer) must not all return
        // in one burst.
        duration delay = pacing.next();
        if (const auto wish = std::exchange(server_retry_after, std::nullopt); wish && *wish > delay)
            delay = std::max(delay, std::min(pacing.spread(*wish, opts.retry_after_spread), opts.retry_after_max));
        if (cb_reconnecting)
            cb_reconnecting(pacing.attempt(), delay);
        if (stopped)
            return;
        timer.expires_after(delay);
        timer.async_wait([self = this->shared_from_this()](const error_code& ec) {
            if (!ec && !self->stopped)
                self->connect();
        });
    }

    void shutdown()
    {
        if (stopped)
            return;
        stopped = true;
        established = false;
        timer.cancel();
        resolver.cancel();
        if (connecting) {
            error_code ignored;
            connecting->close(ignored);
        }
        if (handshaking)
            detail::close_stream(*handshaking);
        if (session)
            session->leave();
        cb_connected = nullptr;
        cb_lost = nullptr;
        cb_failed = nullptr;
        cb_reconnecting = nullptr;
        cb_gave_up = nullptr;
        cb_message = nullptr;
    }
};

} // namespace heartbeat

#endif
