// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_RECONNECTING_CLIENT_HPP
#define HEARTBEAT_RECONNECTING_CLIENT_HPP

#include <heartbeat/detail/assign_on_strand.hpp>
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
#include <optional>
#include <string>

namespace heartbeat {

/// What a reconnecting_client does after an attempt failed or a session
/// ended: try again (after the backoff), or stop for good.
enum class retry_decision { retry, stop };

/// The default retry policy of reconnecting_client: stop on the errors
/// that no retry can cure, retry on every other.
///
/// Stops on `error::auth_failed`, `error::bad_id` and
/// `error::unsupported_version`: the id and credential are fixed in the
/// client's options and the protocol versions in the library, so the next
/// attempt would send the same HELLO and be refused the same way.
///
/// Retries on everything else, among them `error::server_full` (with the
/// server's retry-after, see reconnecting_client::options), `duplicate_id`
/// (the other session with the id may end), `hello_timeout`, resolve,
/// connect and TLS errors, and `error::unacceptable_terms`: the terms are
/// the server's to change, and a server that is loaded (protocol v2 lets it
/// slow its peers down) or being reconfigured may offer acceptable ones on
/// the next attempt, so this mismatch is not the client's to declare
/// permanent. A policy of your own can call this one for the cases it does
/// not decide.
inline retry_decision default_retry_policy(error_code why, unsigned attempt) noexcept
{
    (void)attempt;
    if (why == error::auth_failed || why == error::bad_id || why == error::unsupported_version)
        return retry_decision::stop;
    return retry_decision::retry;
}

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
/// Whether it retries at all is `options::retry_policy`'s decision, asked
/// after every failed attempt and every lost session: by default it stops
/// on the errors no retry can cure (default_retry_policy: auth_failed,
/// bad_id, unsupported_version) and reports that once through
/// on_gave_up(). A server that refuses with `server_full` and says when to
/// come back (protocol v2's RETRY_AFTER) is not tried again sooner: the
/// delay is then, when the retry-after r is longer than the backoff's
/// delay, a time drawn uniformly from [r, r * (1 + `options::retry_after_
/// spread`)], capped at `options::retry_after_max`: the clients a server
/// refused together come back spread out, not in one burst.
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
        /// Asked, on the strand, after each failed attempt (with the error
        /// and the number on_attempt_failed got) and after each lost
        /// session (with on_lost's error and attempt 0): `retry` goes on
        /// after the backoff, `stop` gives up (on_gave_up). An empty
        /// function retries after every error. Must not throw.
        std::function<retry_decision(error_code why, unsigned attempt)> retry_policy = default_retry_policy;
        /// The longest server retry-after honoured; a server asking for
        /// more is tried again after this. Zero ignores retry-after.
        duration retry_after_max = std::chrono::minutes(5);
        /// How far past the server's retry-after a retry may be drawn, as
        /// a fraction of it (0.5: up to half as long again; at most 10).
        double retry_after_spread = 0.5;
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
    /// A welcomed session ended (error says why); a reconnect follows
    /// unless the retry policy stops (then on_gave_up).
    void on_lost(std::function<void(error_code)> f) { set(&state::cb_lost, std::move(f)); }
    /// An attempt failed before the server welcomed it: resolving,
    /// connecting, the transport's handshake (a TLS certificate that fails
    /// verification: `tls::verify_category()`), `net::error::timed_out`
    /// (connect_timeout), or the server's refusal of the HELLO
    /// (`error::auth_failed`, `error::server_full`, ...). `attempt` counts
    /// the failed attempts since start() or the last WELCOME, from 1. A
    /// reconnect follows unless the retry policy stops (then on_gave_up).
    void on_attempt_failed(std::function<void(error_code why, unsigned attempt)> f)
    {
        set(&state::cb_failed, std::move(f));
    }
    /// About to wait `delay` before retry number `attempt` (1-based, since
    /// start() or the last WELCOME; after start() the first attempt is no
    /// retry, so the n-th retry follows the n-th failed attempt). `delay`
    /// is the one used: the backoff's, or the server's retry-after when
    /// that is longer.
    void on_reconnecting(std::function<void(unsigned attempt, duration delay)> f)
    {
        set(&state::cb_reconnecting, std::move(f));
    }
    /// The retry policy said stop after `why` (the error that
    /// on_attempt_failed, or on_lost with `attempt` 0, has just reported).
    /// The client has stopped as if by stop(): no more attempts and no
    /// callback after this one; stop() and destruction are harmless, and
    /// start() does nothing (make a new client to try again).
    void on_gave_up(std::function<void(error_code why, unsigned attempt)> f)
    {
        set(&state::cb_gave_up, std::move(f));
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
        detail::assign_on_strand(s_, member, std::move(f));
    }

    std::shared_ptr<state> s_;
};

} // namespace heartbeat

#include <heartbeat/impl/reconnecting_client.hpp>

#endif
