// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_RECONNECTING_CLIENT_HPP
#define HEARTBEAT_RECONNECTING_CLIENT_HPP

#include <heartbeat/detail/backoff.hpp>
#include <heartbeat/detail/config.hpp>
#include <heartbeat/detail/stream.hpp>
#include <heartbeat/pulse.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace heartbeat {

/// How reconnecting_client turns a connected TCP socket into the session's
/// stream: plain TCP uses the socket itself. A connector for another
/// transport (heartbeat/tls.hpp's `tls::connector`) has the same members;
/// if its stream has a client handshake (`async_handshake(Stream::client,
/// handler)`), the client runs it before HELLO.
struct tcp_connector {
    using stream_type = net::ip::tcp::socket;

    /// `host` is the name the connection was made to (for a TLS stream:
    /// its SNI and the name its certificate must carry). Fails through `ec`.
    stream_type make_stream(net::ip::tcp::socket&& socket, const std::string& host, error_code& ec)
    {
        (void)host;
        ec = {};
        return std::move(socket);
    }
};

/// A client that stays connected: resolve, connect, [the transport's
/// handshake,] HELLO, pulse; when the session ends for any reason but
/// stop(), it reconnects after an exponential backoff with full jitter,
/// and says HELLO again.
///
/// The n-th consecutive retry waits a uniformly random time in
/// [0, min(backoff_max, backoff_initial * backoff_multiplier^(n-1))]
/// ("full jitter"), so a server restart is not met by every client at the
/// same instant. A WELCOME resets the count.
///
/// @tparam Connector makes the session's stream from the connected socket:
///   `tcp_connector` (plain TCP) or `tls::connector` (heartbeat/tls.hpp).
///
/// @par Thread safety
/// Every public function may be called from any thread. Callbacks run on
/// the client's strand, one at a time.
template <class Clock = std::chrono::steady_clock, class Connector = tcp_connector>
class reconnecting_client {
public:
    using socket_type = net::ip::tcp::socket;
    using connector_type = Connector;
    using stream_type = typename Connector::stream_type;
    using pulse_type = pulse<stream_type, Clock>;
    using duration = typename Clock::duration;
    using executor_type = net::strand<net::any_io_executor>;

    struct options {
        std::string host = "127.0.0.1";
        std::string port;
        /// Id, credential, interval and the other session settings.
        typename pulse_type::options session;
        /// Resolve, connect and the transport's handshake (TLS) must
        /// finish within this time; an attempt that does not fails with
        /// `net::error::timed_out`.
        duration connect_timeout = std::chrono::seconds(5);
        /// Retry pacing: the n-th consecutive retry waits a uniformly
        /// random time in [0, min(backoff_max, backoff_initial *
        /// backoff_multiplier^(n-1))]. A WELCOME resets n.
        duration backoff_initial = std::chrono::milliseconds(100);
        duration backoff_max = std::chrono::seconds(10);
        /// At least 1 (the constructor throws std::invalid_argument
        /// otherwise, as for a negative backoff_initial or backoff_max).
        double backoff_multiplier = 2.0;
        /// Seed for the jitter; zero draws one from std::random_device.
        std::uint64_t seed = 0;
    };

    reconnecting_client(const net::any_io_executor& ex, options opts, Connector connector = Connector())
        : s_(std::make_shared<state>(ex, std::move(opts), std::move(connector)))
    {
    }

    template <class ExecutionContext,
              class = std::enable_if_t<std::is_convertible_v<ExecutionContext&, net::execution_context&>>>
    reconnecting_client(ExecutionContext& ctx, options opts, Connector connector = Connector())
        : reconnecting_client(net::any_io_executor(ctx.get_executor()), std::move(opts), std::move(connector))
    {
    }

    reconnecting_client(const reconnecting_client&) = delete;
    reconnecting_client& operator=(const reconnecting_client&) = delete;
    ~reconnecting_client() { stop(); }

    executor_type get_executor() const noexcept { return s_->strand; }

    /// Callbacks run on the strand. Setting one is safe at any time from
    /// any thread: it takes effect on the strand, in order with start().

    /// A session was welcomed by the server.
    void on_connected(std::function<void()> f) { set(&state::cb_connected, std::move(f)); }
    /// A welcomed session ended (error says why); a reconnect follows.
    void on_lost(std::function<void(error_code)> f) { set(&state::cb_lost, std::move(f)); }
    /// An attempt failed before the server welcomed it: resolving,
    /// connecting, the transport's handshake (a TLS certificate that fails
    /// verification: `tls::verify_category()`), `net::error::timed_out`
    /// (connect_timeout), or the server's refusal of the HELLO
    /// (`error::auth_failed`, `error::server_full`, ...). `attempt` counts
    /// the failed attempts since start() or the last WELCOME, from 1. A
    /// reconnect follows.
    void on_attempt_failed(std::function<void(error_code why, unsigned attempt)> f)
    {
        set(&state::cb_failed, std::move(f));
    }
    /// About to wait `delay` before retry number `attempt` (1-based, since
    /// start() or the last WELCOME; after start() the first attempt is no
    /// retry, so the n-th retry follows the n-th failed attempt).
    void on_reconnecting(std::function<void(unsigned attempt, duration delay)> f)
    {
        set(&state::cb_reconnecting, std::move(f));
    }
    /// DATA frames from the server.
    void on_message(std::function<void(std::string_view)> f) { set(&state::cb_message, std::move(f)); }

    void start()
    {
        net::dispatch(s_->strand, [s = s_] { s->connect(); });
    }

    /// Ends the session (GOODBYE if welcomed) and stops reconnecting. No
    /// callback runs after the stop has been carried out on the strand.
    void stop()
    {
        net::dispatch(s_->strand, [s = s_] { s->shutdown(); });
    }

    /// Queues a DATA frame if a session is established.
    /// @returns false if not connected at the time of the call.
    bool send(std::string_view bytes)
    {
        if (!s_->established.load())
            return false;
        net::dispatch(s_->strand, [s = s_, data = std::string(bytes)] {
            if (s->session && s->established)
                s->session->async_send(data, [](error_code) {});
        });
        return true;
    }

    bool is_connected() const noexcept { return s_->established.load(); }

    /// Sessions welcomed so far.
    std::uint64_t sessions() const noexcept { return s_->welcomed.load(); }

    /// The smoothed RTT of the current session, if any.
    std::optional<duration> smoothed_rtt() const
    {
        std::lock_guard<std::mutex> lock(s_->current_mu);
        return s_->current ? s_->current->smoothed_rtt() : std::nullopt;
    }

private:
    struct state;

    template <class Member, class F>
    void set(Member state::*member, F f)
    {
        net::dispatch(s_->strand, [s = s_, member, f = std::move(f)]() mutable {
            if (!s->stopped)
                (*s).*member = std::move(f);
        });
    }

    struct state : std::enable_shared_from_this<state> {
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
        // already queued when its attempt ended is recognised as stale.
        std::uint64_t attempt_number = 0;
        bool attempting = false;
        bool attempt_timed_out = false;
        unsigned failures = 0; // since the last WELCOME
        std::uint64_t session_number = 0;
        std::atomic<bool> established{false};
        std::atomic<std::uint64_t> welcomed{0};
        std::function<void()> cb_connected;
        std::function<void(error_code)> cb_lost;
        std::function<void(error_code, unsigned)> cb_failed;
        std::function<void(unsigned, duration)> cb_reconnecting;
        std::function<void(std::string_view)> cb_message;

        void connect()
        {
            if (stopped || session || connecting || handshaking)
                return;
            attempting = true;
            attempt_timed_out = false;
            timer.expires_after(opts.connect_timeout);
            timer.async_wait([self = this->shared_from_this(), n = ++attempt_number](const error_code& ec) {
                if (ec || self->stopped || !self->attempting || n != self->attempt_number)
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
            error_code ignored;
            sock->set_option(net::ip::tcp::no_delay(true), ignored);
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
            if (attempting && attempt_timed_out)
                ec = net::error::timed_out;
            attempting = false;
            ++failures;
            if (cb_failed)
                cb_failed(ec, failures);
            retry();
        }

        void start_session(stream_type&& stream)
        {
            attempting = false; // from here the session's own errors count
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
            session.reset();
            publish(nullptr);
            if (stopped)
                return;
            if (!was_established)
                return attempt_failed(ec);
            if (cb_lost)
                cb_lost(ec);
            retry();
        }

        void retry()
        {
            if (stopped)
                return;
            const duration delay = pacing.next();
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
            cb_message = nullptr;
        }
    };

    std::shared_ptr<state> s_;
};

} // namespace heartbeat

#endif
