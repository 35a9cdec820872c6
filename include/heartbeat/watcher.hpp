// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_WATCHER_HPP
#define HEARTBEAT_WATCHER_HPP

#include <heartbeat/core/load_governor.hpp>
#include <heartbeat/core/policy_traits.hpp>
#include <heartbeat/core/registry.hpp>
#include <heartbeat/detail/assign_on_strand.hpp>
#include <heartbeat/detail/config.hpp>
#include <heartbeat/detail/live_registry.hpp>
#include <heartbeat/detail/outbox.hpp>
#include <heartbeat/detail/session_table.hpp>
#include <heartbeat/detail/rtt_table.hpp>
#include <heartbeat/detail/stream.hpp>
#include <heartbeat/error.hpp>
#include <heartbeat/peer_context.hpp>
#include <heartbeat/session/server_session.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace heartbeat {

/// A TCP socket on an io_context's own executor type instead of the
/// type-erased `any_io_executor` of `ip::tcp::socket`. A
/// `watcher<tcp_socket>` runs on `net::strand<io_context::executor_type>`,
/// so the path of a beat (the read's completion through the strand, the
/// timers) calls no type-erased executor. It is built with an io_context
/// (`watcher<tcp_socket> w(io)`) and accepts from any `tcp::acceptor` on it.
using tcp_socket = net::basic_stream_socket<net::ip::tcp, net::io_context::executor_type>;

/// Whether a stream handed to `watcher::adopt` has finished its
/// transport's own handshake (TLS) or the watcher must run it.
enum class transport_handshake {
    done,   ///< ready for HELLO (the application ran the handshake, or there is none)
    pending ///< the watcher runs it, within the hello timeout (counted toward `max_handshakes`)
};

/// An authenticator's answer (see `watcher::set_async_authenticator`):
/// accept, with what to attach to the session, or refuse with an error.
struct auth_verdict {
    /// Empty: accept. `error::bad_id` refuses the id; any other error
    /// refuses with `auth_failed` (what the peer is told).
    error_code error;
    /// Attached to an accepted session: its record carries it (see
    /// `watcher::session_info`).
    peer_context context;

    auth_verdict() = default;
    auth_verdict(error_code refusal) : error(refusal) {} // NOLINT: an authenticator's error_code is a verdict
    auth_verdict(heartbeat::error refusal) : error(make_error_code(refusal)) {} // NOLINT: likewise

    static auth_verdict accept(peer_context c = {})
    {
        auth_verdict v;
        v.context = std::move(c);
        return v;
    }
    static auth_verdict refuse(error_code why = heartbeat::error::auth_failed) { return auth_verdict(why); }
};

/// What became of one message offered to one peer (`watcher::async_send`).
struct send_result {
    /// `queued`, or why not: `not_online`, `too_large` (beyond the peer's
    /// limit), `overflow` (its queue is full: the session is being closed).
    send_verdict verdict = send_verdict::not_online;
    /// The bytes waiting to be written to that peer, this message included
    /// if it was queued: how far the peer is behind.
    std::size_t queued_bytes = 0;
};

/// What became of one message offered to every online peer
/// (`watcher::async_broadcast`).
struct broadcast_result {
    std::size_t queued = 0;  ///< peers it was queued for
    std::size_t dropped = 0; ///< online peers it was not: too large for them, or their queue overflowed
    std::size_t max_queued_bytes = 0; ///< the longest queue after it, in bytes
};

/// The server side: owns peer sessions, the last-seen registry and the
/// sweeper that declares silent peers offline.
///
/// The protocol's decisions are `server_session`'s (one per connection,
/// heartbeat/session/server_session.hpp); the watcher reads, feeds each
/// session's machine and carries out what it decides.
///
/// Each adopted stream must open with a HELLO (docs/PROTOCOL.md) within the
/// hello timeout. The authenticator decides who gets in; accepted peers are
/// answered with WELCOME (the interval and miss count they are held to) and
/// reported through `on_online`. From then on every byte a peer sends counts
/// as a sign of life, BEATs are echoed, DATA frames reach `on_message`, and
/// the peer goes offline (reported through `on_offline`, with a reason) on
/// timeout, close, GOODBYE, a protocol error, replacement, or `stop()`.
///
/// @tparam Stream any Asio stream: `ip::tcp::socket`,
///   `ssl::stream<ip::tcp::socket>`, `local::stream_protocol::socket`, or a
///   test stream.
/// @tparam Key the peer id type; constructed from the HELLO's id bytes.
/// @tparam Policy the detection policy.
///
/// @par Thread safety
/// Every public function may be called from any thread. Internally all
/// session work runs on one strand; the queries take a mutex. Callbacks run
/// on the strand, one at a time.
template <class Stream, class Key = std::string,
          class Policy = fixed_misses<std::chrono::steady_clock>>
class watcher {
    static_assert(detail::is_async_stream<Stream>::value,
                  "heartbeat::watcher: Stream must be an Asio async stream "
                  "(get_executor, async_read_some, async_write_some)");
    static_assert(std::is_constructible_v<Key, std::string_view>,
                  "heartbeat::watcher: Key must be constructible from the HELLO id (std::string_view)");

public:
    using stream_type = Stream;
    using key_type = Key;
    using policy_type = Policy;
    using clock_type = typename Policy::clock_type;
    using duration = typename clock_type::duration;
    using time_point = typename clock_type::time_point;
    using executor_type = net::strand<typename Stream::executor_type>;
    using registry_type = registry<Key, clock_type, Policy>;
    /// A transition with its times (see on_event).
    using event_type = peer_event<Key, time_point>;
    using peer_info = typename registry_type::peer_info;

    struct options {
        /// Interval, misses, grace and the [min, max] bounds for announced
        /// intervals.
        typename Policy::options detection{};
        /// A connection must deliver a complete HELLO within this time.
        duration hello_timeout = std::chrono::seconds(5);
        /// The most peers online at once; further HELLOs get server_full.
        std::size_t max_peers = 100'000;
        /// The largest frame payload accepted from a peer.
        std::size_t max_frame = wire::default_max_payload;
        /// The largest message send() and broadcast() pass to a peer: the
        /// peers' own receive limit (`pulse::options::max_frame`, 64 KiB by
        /// default). A version 2 peer states its own (TERMS_ACK), which then
        /// holds for it; version 1 does not tell it. A larger message is
        /// refused here instead of making the peer end its session.
        std::size_t peer_max_frame = wire::default_max_payload;
        /// The highest protocol version granted to a peer that asks for it;
        /// 1 speaks version 1 only (docs/PROTOCOL.md, negotiation).
        std::uint8_t max_version = wire::protocol_version_2;
        /// A version 2 peer refused with server_full is told to wait this
        /// long before it tries again (RETRY_AFTER); zero tells nothing.
        std::chrono::milliseconds server_full_retry_after = std::chrono::seconds(5);
        /// The most bytes queued for one peer before send() refuses.
        std::size_t max_send_queue = 1024 * 1024;
        /// The miss count WELCOME states when the detection policy has none
        /// of its own (phi-accrual): the client's own detection of the
        /// server. With fixed_misses, WELCOME states `detection.misses`.
        unsigned client_misses = 3;
        /// Bytes read per read operation: each session holds this much. A
        /// beat is 8 bytes; raise it for peers that send large DATA. On a
        /// stream socket (`tcp::socket`, `local::stream_protocol::socket`)
        /// the sessions share one buffer of at least 16 KiB instead: they
        /// are read when readable, until a short read.
        std::size_t read_buffer_size = 256;
        /// The io_context runs on one thread: `run()` is called from a
        /// single thread (the watcher cannot tell). On a stream socket the
        /// read of each beat then completes straight on that thread instead
        /// of through the strand, which saves a lock and a queue hop per
        /// beat. Callbacks reached from such a read (on_message, the events
        /// a beat raises) then run on that thread outside the strand
        /// (`get_executor().running_in_this_thread()` is false there).
        /// Wrong, and a data race, if more threads run the context.
        bool single_threaded = false;
        /// Frames a peer may send per second, on average (a token bucket
        /// holding `max_frame_burst`); a peer that sends faster is refused
        /// with ERROR(rate_limited) and goes offline(protocol_error). A beat
        /// every 10 ms is 100 frames a second. Zero disables the limit.
        std::uint32_t max_frame_rate = 5'000;
        std::uint32_t max_frame_burst = 5'000;
        /// How often rtt() is refreshed per peer (one getsockopt each time,
        /// a tenth of a beat's cost at 1 s intervals); zero turns it off.
        duration rtt_sample_interval = std::chrono::seconds(10);
        /// Server-driven probes (docs/PROTOCOL.md, PROBE, R35); zero, the
        /// default, never. A version 2 peer that offers to answer them (a
        /// pulse does: `answer_probes`) gets a PROBE after this much
        /// silence, and again every interval of continued silence, and
        /// answers with a BEAT; a peer that beats more often is never
        /// probed. Set it above the interval peers beat at and below the
        /// deadline (misses x interval): shorter, every peer that offers
        /// beats at the probe's pace. Over TCP this is rarely useful: it
        /// keeps online a peer whose own timers run late while it still
        /// reads (a script in a browser tab in the background), never one
        /// that is gone, whose deadline stays the same. It costs each
        /// session a wake-up of its timer about once per interval,
        /// whatever the peer does (reads only note the time; the timer
        /// checks it when it fires), and an 8-byte frame per probe. A peer
        /// that does not offer gets the transport's own probe, if it has
        /// one, every probe_interval: a WebSocket ping to a ping-mode peer
        /// (heartbeat/websocket.hpp: there zero means the interval, since
        /// such a peer is alive only through them); TCP has none.
        duration probe_interval = duration::zero();
        /// A second connection with an online id.
        duplicate_policy on_duplicate = duplicate_policy::replace;
        /// Close a session whose peer timed out (otherwise keep it open: if
        /// the peer speaks again it comes back online).
        bool close_on_timeout = true;
        /// How long a closing session may take to flush its last frame.
        duration close_timeout = std::chrono::seconds(1);
        /// Local-pause guard (see registry): zero disables.
        duration pause_threshold = std::chrono::seconds(1);
        duration pause_grace = std::chrono::seconds(1);
        /// What the watcher does when it is itself behind: more beats than
        /// it carries, its sweeps running late (docs/PERFORMANCE.md,
        /// "Overload"). A late server must not blame its peers:
        /// - the sweep is late: peers due in it get its lateness again to
        ///   show life (the registry's lag guard, `lag_threshold`);
        /// - the lag lasts (`governor`, a load_governor): version 2 peers
        ///   are told to beat more slowly (TERMS: 2x, then 4x their
        ///   interval, within the policy's bounds; back step by step once
        ///   calm, to 0.8 of the stretch at a time), and while overloaded,
        ///   newcomers are refused with
        ///   server_full and `server_full_retry_after`, so a reconnection
        ///   storm waits instead of feeding the overload.
        /// The peers' own figures (`session_record::interval`) show the
        /// stretched terms; `slowdown()` and `lag()` tell the state.
        struct overload_options {
            /// Sweeps later than this (short of a pause) defer the peers
            /// due in them by their lateness, once. Zero disables.
            duration lag_threshold = std::chrono::milliseconds(10);
            /// Slow the peers down while the lag lasts (max_slowdown 1:
            /// never) and refuse newcomers while overloaded.
            typename load_governor<clock_type>::options governor{};
            bool refuse_newcomers = true;
            /// False: the lag guard only; no slowdown, no refusals.
            bool govern = true;
        };
        overload_options overload{};
        /// How long accept_from() waits after a transient accept error
        /// (EMFILE, ENFILE, ENOBUFS) before it tries again.
        std::chrono::steady_clock::duration accept_retry_pause = std::chrono::milliseconds(50);
        /// The most sessions in their transport's handshake (TLS) at once.
        /// At the bound accept_from() accepts nothing more until one ends,
        /// so a storm of reconnecting TLS clients waits in the kernel's
        /// backlog instead of taking the CPU that online peers' beats
        /// need. (Each acceptor may have one accept in flight when the
        /// bound is reached; adopt(..., pending) counts but never waits.)
        /// Zero: no bound.
        std::size_t max_handshakes = 64;
        /// Where events' and records' wall-clock times come from (display
        /// only; see registry_options::wall_clock). Empty: the clocks'
        /// current offset.
        std::function<std::chrono::system_clock::time_point(time_point)> wall_clock{};
    };

    /// A connection refused before it came online (see on_refused).
    struct refusal {
        /// Why: a heartbeat error (auth_failed, hello_timeout, server_full,
        /// duplicate_id, bad_id, protocol_error, frame_too_large,
        /// unsupported_version, ...) or the transport's own (a TLS
        /// handshake failure, in the ssl category).
        error_code error;
        /// "address:port" of the peer ("[::1]:port" for IPv6); empty where
        /// the transport has none.
        std::string remote_address;
        /// The id its HELLO claimed, when it got that far.
        std::optional<Key> claimed_id;
    };

    /// What the authenticator sees. For an asynchronous authenticator the
    /// views stay valid as long as its handler (any copy) exists.
    struct hello_info {
        std::string_view id;
        std::string_view credential;
        duration announced_interval; ///< zero if the peer left it to us
        std::string_view remote_address; ///< "address:port", as in refusal
    };

    /// Returns an empty error_code to accept, or an error (typically
    /// `error::auth_failed`) to refuse.
    using authenticator = std::function<error_code(const hello_info&)>;

    /// How an asynchronous authenticator answers: call it once, from any
    /// thread, at any time (later calls are ignored). The verdict is carried
    /// out on the strand; one that comes after the hello timeout, or after
    /// the session ended, is dropped. Copyable; never calling it (dropping
    /// every copy, say) leaves the peer to the hello timeout.
    class auth_handler {
    public:
        void operator()(auth_verdict verdict) const;

    private:
        friend class watcher;
        struct pending;
        explicit auth_handler(std::shared_ptr<pending> p) : p_(std::move(p)) {}
        std::shared_ptr<pending> p_;
    };

    /// Called on the strand with each HELLO and the handler to answer with;
    /// must return promptly (start the database query, post the work).
    using async_authenticator = std::function<void(const hello_info&, auth_handler)>;

    /// What the watcher keeps about an online session, beside the
    /// registry's liveness figures (`info`): see session_info().
    struct session_record {
        Key id;
        /// "address:port" of the peer; empty where the transport has none.
        std::string remote_address;
        /// What the authenticator attached (auth_verdict::context).
        peer_context context;
        /// The protocol version the session speaks (1 or 2).
        std::uint8_t version = wire::protocol_version;
        /// The terms the peer is held to now (WELCOME's, or the latest
        /// set_terms() once they hold).
        duration interval{};
        unsigned misses = 0;
        /// The largest message the peer accepts: its TERMS_ACK (version 2),
        /// else `options::peer_max_frame`.
        std::size_t peer_max_frame = 0;
        /// As rtt(), rtt_variation(), last_rtt() and kernel_rtt().
        std::optional<std::chrono::microseconds> rtt;
        std::optional<std::chrono::microseconds> rtt_variation;
        std::optional<std::chrono::microseconds> last_rtt;
        std::optional<std::chrono::microseconds> kernel_rtt;
    };

    watcher(const typename Stream::executor_type& ex, const options& opts = {})
        : impl_(std::make_shared<impl>(ex, opts))
    {
    }

    template <class ExecutionContext,
              class = std::enable_if_t<std::is_convertible_v<ExecutionContext&, net::execution_context&>>>
    explicit watcher(ExecutionContext& ctx, const options& opts = {})
        : watcher(typename Stream::executor_type(ctx.get_executor()), opts)
    {
    }

    watcher(const watcher&) = delete;
    watcher& operator=(const watcher&) = delete;

    /// Stops (see stop()).
    ~watcher() { stop(); }

    executor_type get_executor() const noexcept { return impl_->strand; }

    /// Callbacks. They run on the strand, one at a time, and may call any
    /// member function (send, queries, even stop); they must not throw.
    ///
    /// @par Thread safety
    /// Safe to call at any time from any thread: the new callback takes
    /// effect on the strand, in order with adopt() and accept_from() called
    /// after it, so callbacks set before adopting see every event. stop()
    /// drops them.
    void on_online(std::function<void(const Key&)> f) { set(&impl::cb_online, std::move(f)); }
    void on_offline(std::function<void(const Key&, offline_reason)> f) { set(&impl::cb_offline, std::move(f)); }
    /// Every transition with its times: `at` (when it was decided) and the
    /// peer's `last_seen` (for offline(timeout), `at - last_seen` is the
    /// detection latency). Runs before on_online / on_offline.
    void on_event(std::function<void(const event_type&)> f) { set(&impl::cb_event, std::move(f)); }
    /// Adds an observer of every transition (any number: a cluster gateway,
    /// metrics, ...), called after on_event, in the order added; on_event
    /// stays the application's.
    void subscribe(std::function<void(const event_type&)> f)
    {
        net::dispatch(impl_->strand, [self = impl_, f = std::move(f)]() mutable {
            self->subscribers.push_back(std::move(f));
        });
    }
    void on_message(std::function<void(const Key&, std::string_view)> f) { set(&impl::cb_message, std::move(f)); }
    /// A connection was refused before it came online: its transport
    /// handshake failed or timed out, its HELLO did not come in time, or
    /// the HELLO was refused (authenticator, duplicate id, server full,
    /// malformed). Connections that only open and close (before a HELLO,
    /// or in the middle of the TLS handshake without an error of TLS's
    /// own: a health check, a port scan) are not refusals.
    void on_refused(std::function<void(const refusal&)> f) { set(&impl::cb_refused, std::move(f)); }
    /// Decides who gets in (see authenticator); none admits every HELLO.
    /// The simple case of set_async_authenticator(): it answers at once.
    void set_authenticator(authenticator f) { set(&impl::auth, impl::answering_at_once(std::move(f))); }

    /// Decides who gets in without holding up the strand: `f(hello, done)`
    /// starts the check (a database query, a call to an identity service)
    /// and `done(verdict)` answers later, from any thread. The peer's other
    /// frames wait meanwhile; the hello timeout bounds the wait (a peer not
    /// answered in time gets ERROR hello_timeout and on_refused reports it).
    /// `auth_verdict::accept(context)` attaches a context to the session:
    /// session_info() and sessions() carry it, and the callbacks of its
    /// online and offline events can look it up. Replaces set_authenticator().
    void set_async_authenticator(async_authenticator f) { set(&impl::auth, std::move(f)); }

    /// Takes ownership of a connected stream and runs its session. With
    /// `transport_handshake::pending` (a TLS stream fresh from accept), the
    /// watcher runs the stream's server handshake first.
    void adopt(Stream stream, transport_handshake handshake = transport_handshake::done)
    {
        net::dispatch(impl_->strand,
                      [self = impl_, s = std::make_shared<Stream>(std::move(stream)), handshake]() mutable {
                          self->start_session(std::move(*s), handshake == transport_handshake::pending);
                      });
    }

    /// Accepts connections from `acceptor` until stop() or an acceptor
    /// error, building each stream from the accepted socket and `args`
    /// (`Stream(std::move(socket), args...)`) and running its session; a
    /// stream with a handshake of its own (TLS) runs it first, within the
    /// hello timeout and at most `max_handshakes` at a time.
    ///
    /// For `ssl::stream<tcp::socket>` pass the `ssl::context`:
    /// `accept_from(acceptor, ctx)` (see heartbeat/tls.hpp). Arguments given
    /// as lvalues are held by reference: they, and the acceptor, must
    /// outlive the watcher, or the stop() that ends the loop (stop() is
    /// carried out on the strand: until it has run). Rvalues are moved in.
    template <class Acceptor, class... Args>
    void accept_from(Acceptor& acceptor, Args&&... args)
    {
        // Sockets are accepted onto the acceptor's executor, or onto the
        // watcher's when the Stream's executor type cannot hold the
        // acceptor's (`tcp_socket`, or a TLS stream over one, from a
        // `tcp::acceptor`).
        using acceptor_socket = typename Acceptor::protocol_type::socket::template rebind_executor<
            typename Acceptor::executor_type>::other;
        using stream_socket = typename Acceptor::protocol_type::socket::template rebind_executor<
            typename Stream::executor_type>::other;
        constexpr bool on_acceptor_executor =
            std::is_convertible_v<typename Acceptor::executor_type, typename Stream::executor_type>;
        using socket_type = std::conditional_t<on_acceptor_executor, acceptor_socket, stream_socket>;
        constexpr bool can_build = std::is_constructible_v<Stream, socket_type&&, std::add_lvalue_reference_t<Args>...>;
        static_assert(can_build,
                      "heartbeat::watcher::accept_from: the Stream cannot be built from the accepted socket and "
                      "these arguments. A TLS stream needs its context: accept_from(acceptor, ssl_context); "
                      "another stream type: accept the socket yourself and adopt() the stream.");
        if constexpr (can_build) { // nothing but the assertion above when it fails
            net::dispatch(impl_->strand, [self = impl_, a = &acceptor,
                                          made = std::tuple<Args...>(std::forward<Args>(args)...)]() mutable {
                auto make = [made = std::move(made)](socket_type&& socket) mutable {
                    return std::apply([&](auto&... arg) { return Stream(std::move(socket), arg...); }, made);
                };
                if constexpr (on_acceptor_executor)
                    impl::accept_from(self, a, std::move(make), a->get_executor());
                else
                    impl::accept_from(self, a, std::move(make), self->strand.get_inner_executor());
            });
        }
    }

    /// Closes every session: online peers go offline with reason shutdown
    /// (reported to on_offline, on the strand). Stops the sweeper and any
    /// accept loop. No callback runs after the stop has been carried out on
    /// the strand. Safe to call twice.
    void stop()
    {
        net::dispatch(impl_->strand, [self = impl_] { self->shutdown(); });
    }

    /// New terms for online peer `id` (protocol version 2): it is told to
    /// beat every `interval` (times `slowdown()` while the watcher is
    /// behind, clamped to the policy's bounds) and the
    /// miss count becomes `misses` for it, so a loaded server can slow its
    /// peers down instead of dropping them. Longer terms hold at once;
    /// shorter ones from the peer's acknowledgement, so the change cannot
    /// put the peer offline. A version 1 peer keeps its terms.
    /// @returns false if `id` has no session when called.
    bool set_terms(const Key& id, duration interval, unsigned misses)
    {
        if (!impl_->records.find(id)) // a session, even one timed out and kept open
            return false;
        net::dispatch(impl_->strand, [self = impl_, id, interval, misses] { self->renegotiate(id, interval, misses); });
        return true;
    }

    /// Ends peer `id`'s session: with GOODBYE(kicked) when `why` is empty
    /// (the client's session ends with `error::kicked`), else with
    /// ERROR(`why`) (it ends with that error) if `why` has a code on the
    /// wire (`has_wire_code`: auth_failed, rate_limited, bad_id,
    /// shutting_down, ...; others say GOODBYE(kicked)). The peer goes
    /// offline with reason `kicked` either way; the session lingers up to
    /// `close_timeout` to flush that last frame, as every ending one does.
    /// A session kept open after a timeout (`close_on_timeout = false`) can
    /// be kicked too.
    /// @returns false if `id` has no session when called; the kick itself is
    /// carried out on the strand.
    bool kick(const Key& id, std::optional<error> why = std::nullopt)
    {
        if (!impl_->records.find(id))
            return false;
        net::dispatch(impl_->strand, [self = impl_, id, why] { self->kick(id, why); });
        return true;
    }

    /// Queues `bytes` (copied) as a DATA frame for peer `id` and says what
    /// became of it, which only the session's strand knows. Completion
    /// signature `void(error_code, send_result)`: the error is empty when
    /// queued, else `net::error::not_connected` (not online),
    /// `error::message_too_large` (beyond the peer's own limit, which a
    /// version 2 peer states), `error::send_queue_full` (the peer's queue
    /// overflowed: its session is being closed) or `error::shutting_down`.
    /// The completion says the message was queued, not written.
    template <class CompletionToken = net::default_completion_token_t<typename Stream::executor_type>>
    auto async_send(const Key& id, std::string_view bytes,
                    CompletionToken&& token = net::default_completion_token_t<typename Stream::executor_type>{})
    {
        return net::async_initiate<CompletionToken, void(error_code, send_result)>(
            send_initiation{impl_}, token, id, detail::make_data_frame(bytes, wire::max_encodable_payload));
    }

    /// Queues `bytes` (copied, encoded once) for every online peer and
    /// counts what became of it. Completion signature
    /// `void(error_code, broadcast_result)`: the error is empty unless no
    /// frame can carry the message (`error::message_too_large`) or the
    /// watcher is stopping (`error::shutting_down`).
    template <class CompletionToken = net::default_completion_token_t<typename Stream::executor_type>>
    auto async_broadcast(std::string_view bytes,
                         CompletionToken&& token = net::default_completion_token_t<typename Stream::executor_type>{})
    {
        return net::async_initiate<CompletionToken, void(error_code, broadcast_result)>(
            broadcast_initiation{impl_}, token, detail::make_data_frame(bytes, wire::max_encodable_payload));
    }

    /// Queues `bytes` as a DATA frame for peer `id`.
    /// @returns false if the peer is not online or the message is larger
    /// than `options::peer_max_frame`; a peer whose send queue is full is
    /// closed instead of buffering without bound.
    bool send(const Key& id, std::string_view bytes)
    {
        if (!is_online(id))
            return false;
        auto frame = detail::make_data_frame(bytes, impl_->opts.peer_max_frame);
        if (!frame)
            return false;
        net::dispatch(impl_->strand, [self = impl_, id, frame] { self->send_to(id, frame); });
        return true;
    }

    /// Queues `bytes` as a DATA frame for every online peer (encoded once).
    /// @returns the number of peers online when called; zero if the message
    /// is larger than `options::peer_max_frame`.
    std::size_t broadcast(std::string_view bytes)
    {
        auto frame = detail::make_data_frame(bytes, impl_->opts.peer_max_frame);
        if (!frame)
            return 0;
        net::dispatch(impl_->strand, [self = impl_, frame] { self->broadcast(frame); });
        return online_count();
    }

    // ---- queries: any thread ------------------------------------------

    bool is_online(const Key& id) const
    {
        return impl_->table.is_online(id);
    }

    std::optional<time_point> last_seen(const Key& id) const
    {
        return impl_->table.last_seen(id);
    }

    std::optional<peer_info> info(const Key& id) const
    {
        return impl_->table.info(id);
    }

    std::vector<peer_info> snapshot() const
    {
        return impl_->table.snapshot();
    }

    std::size_t online_count() const
    {
        return impl_->table.online_count();
    }

    /// The suspicion level (phi) of online peer `id` now, for policies that
    /// have one (phi_accrual).
    template <class P = Policy>
    auto suspicion(const Key& id) const
        -> decltype(std::declval<const registry_type&>().template suspicion<P>(id, clock_type::now()))
    {
        return impl_->table.locked(
            [&](const registry_type& r) { return r.template suspicion<P>(id, clock_type::now()); });
    }

    /// The round-trip time to online peer `id` as the protocol measures it
    /// (version 2: each ECHO's stamp comes back in the peer's next BEAT
    /// with how long the peer held it), smoothed as TCP does (RFC 6298);
    /// nothing for a version 1 peer or before the second beat.
    std::optional<std::chrono::microseconds> rtt(const Key& id) const
    {
        return rtt_figure(id, &detail::rtt_cell::smoothed);
    }

    /// The smoothed RTT's mean deviation (RFC 6298's rttvar).
    std::optional<std::chrono::microseconds> rtt_variation(const Key& id) const
    {
        return rtt_figure(id, &detail::rtt_cell::variation);
    }

    /// The latest round-trip sample, unsmoothed.
    std::optional<std::chrono::microseconds> last_rtt(const Key& id) const
    {
        return rtt_figure(id, &detail::rtt_cell::last);
    }

    /// The round-trip time as the kernel estimates it for the TCP
    /// connection beneath (TCP_INFO, sampled when beats arrive, at most once
    /// per `options::rtt_sample_interval`); nothing for other transports,
    /// before the first beat, or when sampling is off. It includes delayed
    /// ACKs, so on a quiet connection it reads milliseconds where rtt()
    /// reads microseconds.
    std::optional<std::chrono::microseconds> kernel_rtt(const Key& id) const
    {
        return rtt_figure(id, &detail::rtt_cell::kernel);
    }

    /// The record of online peer `id`'s session (see session_record). It
    /// exists from before the peer's online event until after its offline
    /// event: callbacks of both find it (on_offline, say, for the user id
    /// the authenticator attached); nothing once they have run.
    std::optional<session_record> session_info(const Key& id) const
    {
        const auto cell = impl_->records.find(id);
        if (!cell)
            return std::nullopt;
        return cell->load();
    }

    /// Every session record (see session_info()), in no order.
    std::vector<session_record> sessions() const
    {
        std::vector<session_record> all;
        impl_->records.for_each([&](const record_cell& c) { all.push_back(c.load()); });
        return all;
    }

    /// Connections open, including those still in the handshake.
    std::size_t session_count() const
    {
        return impl_->session_count.load();
    }

    /// Frames received from peers so far, all sessions (a cheap counter for
    /// metrics: beats processed per second is its rate).
    std::uint64_t frames_received() const noexcept
    {
        return impl_->frames_in.load(std::memory_order_relaxed);
    }

    /// Connections refused so far (each one reported to on_refused).
    std::uint64_t refused_count() const noexcept
    {
        return impl_->refused.load(std::memory_order_relaxed);
    }

    /// Sessions in their transport's handshake now.
    std::size_t handshakes_in_progress() const noexcept
    {
        return impl_->accepting.in_progress();
    }

    /// The factor by which version 2 peers' intervals are stretched now
    /// because the watcher is behind (options::overload): 1 while healthy.
    double slowdown() const noexcept { return impl_->slowdown.load(std::memory_order_relaxed); }

    /// The watcher's own lag: its sweeps' lateness, smoothed (see
    /// load_governor), measured whether or not `overload.govern` acts on
    /// it (without it, only when a sweep runs). Zero until the first sweep.
    duration lag() const noexcept { return duration(impl_->lag.load(std::memory_order_relaxed)); }

    /// Deadlines deferred because the watcher was paused or behind (the
    /// registry's pause and lag guards).
    std::uint64_t deferrals() const
    {
        return impl_->table.locked([](const registry_type& r) { return r.pause_deferrals(); });
    }

private:
    struct session;
    struct record_cell;
    struct impl;
    struct send_initiation;
    struct broadcast_initiation;

    std::optional<std::chrono::microseconds> rtt_figure(const Key& id,
                                                        std::atomic<std::int64_t> detail::rtt_cell::*figure) const
    {
        const auto cell = impl_->records.find(id);
        if (!cell)
            return std::nullopt;
        return detail::rtt_cell::load(cell->rtt.*figure);
    }

    template <class Member, class F>
    void set(Member impl::*member, F f)
    {
        detail::assign_on_strand(impl_, member, std::move(f));
    }

    std::shared_ptr<impl> impl_;
};

} // namespace heartbeat

#include <heartbeat/impl/watcher.hpp>

#endif
