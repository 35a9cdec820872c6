// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_WATCHER_HPP
#define HEARTBEAT_WATCHER_HPP

#include <heartbeat/core/registry.hpp>
#include <heartbeat/detail/config.hpp>
#include <heartbeat/detail/send_queue.hpp>
#include <heartbeat/detail/stream.hpp>
#include <heartbeat/error.hpp>
#include <heartbeat/detail/live_registry.hpp>
#include <heartbeat/wire/decoder.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace heartbeat {

/// What a watcher does when a second connection claims an id that is online.
enum class duplicate_policy {
    replace, ///< the old session goes offline (reason replaced) and is closed
    reject   ///< the newcomer gets ERROR duplicate_id and is closed
};

/// The server side: owns peer sessions, the last-seen registry and the
/// sweeper that declares silent peers offline.
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
        /// The most bytes queued for one peer before send() refuses.
        std::size_t max_send_queue = 1024 * 1024;
        /// Bytes read per read operation: each session holds this much. A
        /// beat is 8 bytes; raise it for peers that send large DATA.
        std::size_t read_buffer_size = 256;
        /// Frames a peer may send per second, on average (a token bucket
        /// holding `max_frame_burst`); a peer that sends faster is refused
        /// with ERROR(rate_limited) and goes offline(protocol_error). A beat
        /// every 10 ms is 100 frames a second. Zero disables the limit.
        std::uint32_t max_frame_rate = 5'000;
        std::uint32_t max_frame_burst = 5'000;
        /// How often rtt() is refreshed per peer (one getsockopt each time,
        /// a tenth of a beat's cost at 1 s intervals); zero turns it off.
        duration rtt_sample_interval = std::chrono::seconds(10);
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
    };

    /// What the authenticator sees.
    struct hello_info {
        std::string_view id;
        std::string_view credential;
        duration announced_interval; ///< zero if the peer left it to us
    };

    /// Returns an empty error_code to accept, or an error (typically
    /// `error::auth_failed`) to refuse.
    using authenticator = std::function<error_code(const hello_info&)>;

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

    /// Callbacks. Set them before adopting streams. They run on the strand
    /// and may call any member function (send, queries, even stop); they
    /// must not throw.
    void on_online(std::function<void(const Key&)> f) { impl_->cb_online = std::move(f); }
    void on_offline(std::function<void(const Key&, offline_reason)> f) { impl_->cb_offline = std::move(f); }
    /// Every transition with its times: `at` (when it was decided) and the
    /// peer's `last_seen` (for offline(timeout), `at - last_seen` is the
    /// detection latency). Runs before on_online / on_offline.
    void on_event(std::function<void(const event_type&)> f) { impl_->cb_event = std::move(f); }
    void on_message(std::function<void(const Key&, std::string_view)> f) { impl_->cb_message = std::move(f); }
    void set_authenticator(authenticator f) { impl_->auth = std::move(f); }

    /// Takes ownership of a connected stream and runs its session.
    void adopt(Stream stream)
    {
        net::dispatch(impl_->strand, [self = impl_, s = std::make_shared<Stream>(std::move(stream))]() mutable {
            self->start_session(std::move(*s));
        });
    }

    /// Accepts connections from `acceptor` until stop() or an acceptor
    /// error, adopting each. Requires Stream to be constructible from the
    /// acceptor's socket type (tcp::socket, local::stream_protocol::socket).
    template <class Acceptor>
    void accept_from(Acceptor& acceptor)
    {
        net::dispatch(impl_->strand, [self = impl_, a = &acceptor] { impl::template accept_next<Acceptor>(self, a); });
    }

    /// Closes every session: online peers go offline with reason shutdown
    /// (reported to on_offline, on the strand). Stops the sweeper and any
    /// accept loop. No callback runs after the stop has been carried out on
    /// the strand. Safe to call twice.
    void stop()
    {
        net::dispatch(impl_->strand, [self = impl_] { self->shutdown(); });
    }

    /// Queues `bytes` as a DATA frame for peer `id`.
    /// @returns false if the peer is not online (or the frame is too big);
    /// a peer whose send queue is full is closed instead of buffering
    /// without bound.
    bool send(const Key& id, std::string_view bytes)
    {
        if (!is_online(id) || bytes.size() > wire::max_encodable_payload)
            return false;
        auto frame = make_data_frame(bytes);
        net::dispatch(impl_->strand, [self = impl_, id, frame] { self->send_to(id, frame); });
        return true;
    }

    /// Queues `bytes` as a DATA frame for every online peer (encoded once).
    /// @returns the number of peers online when called.
    std::size_t broadcast(std::string_view bytes)
    {
        if (bytes.size() > wire::max_encodable_payload)
            return 0;
        auto frame = make_data_frame(bytes);
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

    /// The round-trip time to peer `id` as the kernel estimates it for the
    /// TCP connection beneath (sampled when beats arrive, at most once per
    /// `options::rtt_sample_interval`); nothing for other transports, before
    /// the first beat, or when sampling is off.
    std::optional<std::chrono::microseconds> rtt(const Key& id) const
    {
        std::lock_guard<std::mutex> lock(impl_->rtt_mu);
        auto it = impl_->rtts.find(id);
        if (it == impl_->rtts.end())
            return std::nullopt;
        return it->second;
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

private:
    static detail::shared_bytes make_data_frame(std::string_view bytes)
    {
        auto v = std::make_shared<std::vector<std::uint8_t>>(wire::header_size + bytes.size());
        wire::encode_header(v->data(), wire::frame_type::data, bytes.size());
        std::copy(bytes.begin(), bytes.end(), v->begin() + wire::header_size);
        return v;
    }

    struct impl;

    enum class phase { hello, online, closing, closed };

    struct session {
        session(Stream s, const std::shared_ptr<impl>& o)
            : stream(std::move(s)), owner(o), decoder(o->opts.max_frame), timer(o->strand),
              read_buffer(o->opts.read_buffer_size)
        {
        }

        Stream stream;
        // Weak: a session's pending handlers must not keep a destroyed
        // watcher alive (nor form a cycle with it).
        std::weak_ptr<impl> owner;
        wire::decoder decoder;
        net::basic_waitable_timer<clock_type, net::wait_traits<clock_type>, executor_type> timer;
        std::vector<std::uint8_t> read_buffer;
        detail::send_queue out;
        std::optional<Key> key;
        peer_handle handle;
        std::optional<time_point> rtt_sampled;
        time_point frames_refilled{};
        double frame_tokens = 0;
        phase state = phase::hello;
        offline_reason close_reason = offline_reason::disconnected;
    };

    struct impl : std::enable_shared_from_this<impl> {
        impl(const typename Stream::executor_type& ex, const options& o)
            : strand(net::make_strand(ex)), opts(o), table(strand, make_registry_options(o))
        {
            table.set_handler([this](const event_type& e) { on_event(e); });
            table.start(); // idle until the first peer comes online
        }

        static typename registry_type::options make_registry_options(const options& o)
        {
            typename registry_type::options r;
            r.detection = o.detection;
            r.pause_threshold = o.pause_threshold;
            r.pause_grace = o.pause_grace;
            r.max_peers = o.max_peers;
            return r;
        }

        executor_type strand;
        options opts;
        detail::live_registry<Key, Policy, executor_type> table;
        std::unordered_map<Key, std::shared_ptr<session>> online; // key -> owning session
        std::unordered_set<std::shared_ptr<session>> sessions;
        std::atomic<std::size_t> session_count{0};
        std::atomic<std::uint64_t> frames_in{0};
        mutable std::mutex rtt_mu; // guards rtts, read by queries from any thread
        std::unordered_map<Key, std::chrono::microseconds> rtts;
        std::function<void(const Key&)> cb_online;
        std::function<void(const Key&, offline_reason)> cb_offline;
        std::function<void(const event_type&)> cb_event;
        std::function<void(const Key&, std::string_view)> cb_message;
        authenticator auth;
        std::function<void()> stop_accepting;
        net::steady_timer accept_retry{strand};
        bool stopped = false;

        // On the strand, in registry order, outside the lock.
        void on_event(const event_type& e)
        {
            const Key& key = e.key;
            const transition kind = e.kind;
            const offline_reason reason = e.reason;
            if (kind == transition::offline && reason == offline_reason::timeout)
                on_timeout(key);
            if (stopped && reason != offline_reason::shutdown)
                return;
            if (cb_event)
                cb_event(e);
            if (kind == transition::online) {
                if (cb_online)
                    cb_online(key);
            }
            else if (cb_offline) {
                cb_offline(key, reason);
            }
        }

        void on_timeout(const Key& key)
        {
            auto it = online.find(key);
            if (it == online.end())
                return;
            auto s = it->second;
            if (!opts.close_on_timeout)
                return;
            // The registry already reported offline(timeout); forget the
            // record and close without a goodbye (the peer is not reading).
            online.erase(it);
            table.locked([&](registry_type& r) { return r.remove(s->handle, offline_reason::timeout); });
            forget_rtt(key);
            s->key.reset();
            close_now(s);
        }

        // ---- sessions ---------------------------------------------------

        void start_session(Stream stream)
        {
            if (stopped) {
                detail::close_stream(stream);
                return;
            }
            auto s = std::make_shared<session>(std::move(stream), this->shared_from_this());
            sessions.insert(s);
            ++session_count;
            s->timer.expires_after(opts.hello_timeout);
            s->timer.async_wait([s](const error_code& ec) {
                if (ec || s->state != phase::hello)
                    return;
                if (auto o = s->owner.lock())
                    o->fail(s, error::hello_timeout);
            });
            read(s);
        }

        void read(const std::shared_ptr<session>& s)
        {
            s->stream.async_read_some(
                net::buffer(s->read_buffer),
                net::bind_executor(strand, [s](const error_code& ec, std::size_t n) {
                    if (auto o = s->owner.lock())
                        o->on_read(s, ec, n);
                }));
        }

        void on_read(const std::shared_ptr<session>& s, const error_code& ec, std::size_t n)
        {
            if (s->state == phase::closed)
                return;
            const time_point now = clock_type::now(); // once per read, not per frame
            if (n != 0 && s->state == phase::online) {
                // Every byte is a sign of life, not only BEAT frames.
                table.locked([&](registry_type& r) { return r.touch(s->handle, now); });
            }
            if (n != 0 && s->state != phase::closing) {
                refill_frame_tokens(*s, now);
                std::uint64_t frames = 0;
                const auto st = s->decoder.feed(s->read_buffer.data(), n, [&](const wire::frame_view& f) {
                    ++frames;
                    if (s->state != phase::hello && s->state != phase::online)
                        return;
                    if (opts.max_frame_rate != 0 && (s->frame_tokens -= 1.0) < 0.0)
                        return fail(s, error::rate_limited);
                    on_frame(s, f, now);
                });
                frames_in.fetch_add(frames, std::memory_order_relaxed);
                table.deliver();
                if (st != wire::decode_status::ok && s->state != phase::closed) {
                    fail(s, to_error(st));
                    return;
                }
            }
            if (ec) {
                end(s, offline_reason::disconnected);
                return;
            }
            if (s->state == phase::closed)
                return;
            read(s);
        }

        // The flood guard's token bucket, refilled once per read completion.
        void refill_frame_tokens(session& s, time_point now) const
        {
            if (opts.max_frame_rate == 0)
                return;
            const double burst = static_cast<double>(opts.max_frame_burst);
            if (s.frames_refilled == time_point{}) {
                s.frame_tokens = burst;
            }
            else {
                const double elapsed = std::chrono::duration<double>(now - s.frames_refilled).count();
                s.frame_tokens = std::min(burst, s.frame_tokens + elapsed * static_cast<double>(opts.max_frame_rate));
            }
            s.frames_refilled = now;
        }

        void on_frame(const std::shared_ptr<session>& s, const wire::frame_view& f, time_point now)
        {
            if (s->state == phase::hello) {
                if (f.type != wire::frame_type::hello)
                    return fail(s, error::protocol_error);
                wire::hello h;
                const auto st = wire::parse_hello(f, h);
                if (st != wire::decode_status::ok)
                    return fail(s, to_error(st));
                return on_hello(s, h, now);
            }
            switch (f.type) {
            case wire::frame_type::beat: {
                std::uint32_t seq = 0;
                if (wire::parse_sequence(f, seq) != wire::decode_status::ok)
                    return fail(s, error::protocol_error);
                // A peer that beats but never reads would grow its echo
                // queue without bound: it is held to the send queue limit.
                if (s->out.bytes() + wire::header_size + 4 > opts.max_send_queue)
                    return fail(s, error::send_queue_full);
                const auto echo = wire::encode_echo(seq);
                s->out.push_urgent(echo.data(), echo.size());
                flush(s);
                sample_rtt(s, now);
                return;
            }
            case wire::frame_type::data:
                if (cb_message && !stopped)
                    cb_message(*s->key, std::string_view(reinterpret_cast<const char*>(f.payload), f.size));
                return;
            case wire::frame_type::goodbye:
                return end(s, offline_reason::left);
            default: return fail(s, error::protocol_error);
            }
        }

        void sample_rtt(const std::shared_ptr<session>& s, time_point now)
        {
            if (opts.rtt_sample_interval == duration::zero()
                || (s->rtt_sampled && now - *s->rtt_sampled < opts.rtt_sample_interval))
                return;
            s->rtt_sampled = now;
            if (const auto rtt = detail::kernel_rtt(s->stream)) {
                std::lock_guard<std::mutex> lock(rtt_mu);
                rtts[*s->key] = *rtt;
            }
        }

        void on_hello(const std::shared_ptr<session>& s, const wire::hello& h, time_point now)
        {
            if (h.id.empty())
                return fail(s, error::bad_id);
            const duration announced = std::chrono::duration_cast<duration>(std::chrono::milliseconds(h.interval_ms));
            if (auth) {
                const error_code verdict = auth(hello_info{h.id, h.credential, announced});
                if (verdict)
                    return fail(s, verdict == make_error_code(error::bad_id) ? error::bad_id : error::auth_failed);
            }
            Key key(h.id);
            if (auto it = online.find(key); it != online.end()) {
                if (opts.on_duplicate == duplicate_policy::reject)
                    return fail(s, error::duplicate_id);
                auto old = it->second;
                online.erase(it);
                table.locked([&](registry_type& r) { return r.remove(old->handle, offline_reason::replaced); });
                forget_rtt(key);
                old->key.reset();
                const auto bye = wire::encode_goodbye(wire::goodbye_reason::replaced);
                close_after(old, std::make_shared<std::vector<std::uint8_t>>(bye.begin(), bye.end()));
            }
            const auto& detection = table.locked([](const registry_type& r) -> const auto& {
                return r.policy().get_options();
            });
            duration held{};
            table.locked([&](registry_type& r) {
                s->handle = r.touch(key, now);
                if (s->handle.valid())
                    held = *r.set_interval(s->handle, announced > duration::zero() ? announced : detection.interval);
            });
            if (!s->handle.valid())
                return fail(s, error::server_full);
            s->key.emplace(std::move(key));
            online.emplace(*s->key, s);
            s->state = phase::online;
            s->timer.cancel();
            table.rearm();

            auto welcome = std::make_shared<std::vector<std::uint8_t>>();
            wire::append_welcome(*welcome,
                                 {wire::protocol_version, static_cast<std::uint8_t>(std::min(detection.misses, 255u)),
                                  static_cast<std::uint32_t>(std::max<long long>(
                                      1, std::chrono::duration_cast<std::chrono::milliseconds>(held).count()))});
            s->out.push(std::move(welcome));
            flush(s);
        }

        // ---- writing ------------------------------------------------------

        void flush(const std::shared_ptr<session>& s)
        {
            if (s->out.writing() || s->out.empty() || s->state == phase::closed)
                return;
            net::async_write(s->stream, s->out.prepare(),
                             net::bind_executor(strand, [s](const error_code& ec, std::size_t) {
                                 s->out.consume(ec);
                                 auto o = s->owner.lock();
                                 if (!o || s->state == phase::closed)
                                     return;
                                 if (ec) {
                                     o->end(s, offline_reason::disconnected);
                                     return;
                                 }
                                 if (s->state == phase::closing && s->out.empty()) {
                                     // Half-close and let the pending read drain
                                     // until the peer's EOF (or close_timeout):
                                     // closing with unread input would send a
                                     // reset that can destroy the last frame.
                                     detail::shutdown_send(s->stream);
                                     return;
                                 }
                                 o->flush(s);
                             }));
        }

        void send_to(const Key& id, const detail::shared_bytes& frame)
        {
            auto it = online.find(id);
            if (it == online.end())
                return;
            enqueue(it->second, frame);
        }

        void broadcast(const detail::shared_bytes& frame)
        {
            std::vector<std::shared_ptr<session>> targets;
            targets.reserve(online.size());
            for (auto& kv : online)
                targets.push_back(kv.second);
            for (auto& s : targets)
                enqueue(s, frame);
        }

        void enqueue(const std::shared_ptr<session>& s, const detail::shared_bytes& frame)
        {
            if (s->state != phase::online)
                return;
            if (s->out.bytes() + frame->size() > opts.max_send_queue) {
                // A peer that cannot keep up is closed rather than buffered
                // without bound.
                fail(s, error::send_queue_full);
                return;
            }
            s->out.push(frame);
            flush(s);
        }

        // ---- ending sessions ----------------------------------------------

        // Refuse or drop a peer: an ERROR frame, then close.
        void fail(const std::shared_ptr<session>& s, error e)
        {
            if (s->state == phase::closing || s->state == phase::closed)
                return;
            auto frame = std::make_shared<std::vector<std::uint8_t>>();
            wire::append_error(*frame, to_wire(e), make_error_code(e).message());
            release_key(s, e == error::send_queue_full ? offline_reason::disconnected : offline_reason::protocol_error);
            close_after(s, std::move(frame));
        }

        // The peer went away (or said goodbye).
        void end(const std::shared_ptr<session>& s, offline_reason reason)
        {
            if (s->state == phase::closed)
                return;
            s->state = phase::closing; // callbacks run by release_key see it ending
            release_key(s, reason);
            close_now(s);
        }

        // Takes the session's peer out of the registry, raising offline.
        void release_key(const std::shared_ptr<session>& s, offline_reason reason)
        {
            if (!s->key)
                return;
            auto it = online.find(*s->key);
            if (it != online.end() && it->second == s)
                online.erase(it);
            table.locked([&](registry_type& r) { return r.remove(s->handle, reason); });
            forget_rtt(*s->key);
            s->key.reset();
            table.deliver();
        }

        void forget_rtt(const Key& key)
        {
            std::lock_guard<std::mutex> lock(rtt_mu);
            rtts.erase(key);
        }

        // Writes a last frame, then closes (or closes at close_timeout).
        void close_after(const std::shared_ptr<session>& s, detail::shared_bytes last)
        {
            if (s->state == phase::closed || s->state == phase::closing)
                return;
            s->state = phase::closing;
            s->out.fail_pending(net::error::operation_aborted);
            s->out.push(std::move(last));
            s->timer.expires_after(opts.close_timeout);
            s->timer.async_wait([s](const error_code& ec) {
                if (ec)
                    return;
                if (auto o = s->owner.lock())
                    o->close_now(s);
                else
                    detail::close_stream(s->stream);
            });
            flush(s);
        }

        void close_now(const std::shared_ptr<session>& s)
        {
            if (s->state == phase::closed)
                return;
            const auto keep = s; // `s` may be the set's own element
            keep->state = phase::closed;
            // Count it gone before the peer can see the close.
            if (sessions.erase(s) != 0)
                --session_count;
            s->timer.cancel();
            detail::close_stream(s->stream);
            s->out.fail_pending(net::error::operation_aborted);
        }

        // ---- accepting ------------------------------------------------------

        template <class Acceptor>
        static void accept_next(const std::shared_ptr<impl>& self, Acceptor* a)
        {
            if (self->stopped)
                return;
            self->stop_accepting = [a] {
                error_code ignored;
                a->cancel(ignored);
            };
            a->async_accept(net::bind_executor(self->strand, [self, a](const error_code& ec, auto socket) {
                if (self->stopped)
                    return;
                if (ec == net::error::operation_aborted)
                    return;
                if (!ec) {
                    if constexpr (std::is_same_v<typename Acceptor::protocol_type, net::ip::tcp>) {
                        // Echoes and last frames are small: never hold them back.
                        error_code ignored;
                        socket.set_option(net::ip::tcp::no_delay(true), ignored);
                    }
                    self->start_session(Stream(std::move(socket)));
                    return accept_next(self, a);
                }
                // A closed acceptor reports bad_descriptor: the loop ends.
                if (ec == net::error::bad_descriptor)
                    return;
                // Transient errors (EMFILE, ENFILE, ENOBUFS, ECONNABORTED) must
                // not end the loop, nor spin it while they last.
                self->accept_retry.expires_after(std::chrono::milliseconds(50));
                self->accept_retry.async_wait([self, a](const error_code& wec) {
                    if (!wec)
                        accept_next(self, a);
                });
            }));
        }

        // ---- stopping ---------------------------------------------------------

        void shutdown()
        {
            if (stopped)
                return;
            stopped = true;
            table.stop();
            if (stop_accepting)
                stop_accepting();
            accept_retry.cancel();
            std::vector<std::shared_ptr<session>> all(sessions.begin(), sessions.end());
            const auto bye = wire::encode_goodbye(wire::goodbye_reason::shutting_down);
            auto frame = std::make_shared<std::vector<std::uint8_t>>(bye.begin(), bye.end());
            for (auto& s : all) {
                const bool greeted = s->state == phase::online;
                release_key(s, offline_reason::shutdown);
                // Tell welcomed peers it is deliberate, so they reconnect
                // elsewhere instead of waiting out their timeout.
                if (greeted)
                    close_after(s, frame);
                else
                    close_now(s);
            }
            online.clear();
            table.locked([](registry_type& r) { r.clear(offline_reason::shutdown); });
            table.deliver();
            cb_online = nullptr;
            cb_offline = nullptr;
            cb_message = nullptr;
            auth = nullptr;
        }
    };

    std::shared_ptr<impl> impl_;
};

} // namespace heartbeat

#endif
