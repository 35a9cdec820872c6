// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_IMPL_WATCHER_HPP
#define HEARTBEAT_IMPL_WATCHER_HPP

// The watcher's driver: reads each connection, feeds its server_session,
// and carries out the actions the machine decides. Every protocol rule is
// the machine's; what is here is I/O, the registry, and the id -> session
// map that duplicate ids and push by id need.

#include <heartbeat/watcher.hpp>

#include <heartbeat/detail/accept_loop.hpp>
#include <heartbeat/detail/erased_handler.hpp>

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

namespace heartbeat {

template <class Stream, class Key, class Policy>
struct watcher<Stream, Key, Policy>::session {
    using machine_type = server_session<clock_type>;

    session(Stream s, const std::shared_ptr<impl>& o)
        : stream(std::move(s)), owner(o), machine(o->session_options),
          read_buffer(impl::reads_on_readiness ? 0 : o->opts.read_buffer_size)
    {
    }

    Stream stream;
    // Weak: a session's pending handlers must not keep a destroyed watcher
    // alive (nor form a cycle with it).
    std::weak_ptr<impl> owner;
    machine_type machine;
    // Only while a deadline runs (the hello, the linger): an online TCP
    // peer has none, and thousands of them should not each carry an idle
    // timer. Destroying it cancels its wait.
    using timer_type = net::basic_waitable_timer<clock_type, net::wait_traits<clock_type>, executor_type>;
    std::unique_ptr<timer_type> timer;
    // Its own read buffer; on a stream socket only what the machine holds
    // unconsumed (see impl::read_ready).
    std::vector<std::uint8_t> read_buffer;
    detail::outbox out;
    std::optional<Key> key;
    // Its record, shared with queries while online, and the round-trip
    // figures within it.
    std::shared_ptr<record_cell> record;
    std::shared_ptr<detail::rtt_cell> rtt;
    // The authenticator's question while it has not answered (it holds the
    // HELLO's id), then what it attached until the record takes it.
    std::shared_ptr<typename auth_handler::pending> asked;
    peer_context context;
    // The id a refused HELLO claimed, kept for on_refused (rare: a pointer).
    std::unique_ptr<Key> claimed;
    // "address:port", looked up once (the authenticator, the record, a
    // refusal).
    std::optional<std::string> remote;
    peer_handle handle;
    // The terms chosen for it (admission, set_terms) before the overload
    // slowdown stretches them.
    duration base_interval{};
    unsigned base_misses = 0;
    bool in_loop = false;   // carrying out actions: inputs from callbacks only queue more
    bool in_read_loop = false; // in read_ready(): a read the machine asks for goes on there
    bool wants_read = false;   // the machine asked for one meanwhile
    bool stream_open = true;
    bool handshaking = false; // counted in impl::accepting
    bool admitted = false;    // came online once: its end is an offline, not a refusal
    bool reporting_offline = false; // its offline(timeout) event is being handed to callbacks
};

// A session's record as queries see it: what is fixed at admission, and
// the figures its session updates on the strand without the table's lock.
template <class Stream, class Key, class Policy>
struct watcher<Stream, Key, Policy>::record_cell {
    record_cell(const Key& k, std::string address, peer_context c, std::uint8_t v)
        : id(k), remote_address(std::move(address)), context(std::move(c)), version(v)
    {
    }

    void update(const typename session::machine_type& m) noexcept
    {
        interval.store(m.held_interval().count(), std::memory_order_relaxed);
        misses.store(m.held_misses(), std::memory_order_relaxed);
        peer_max_frame.store(m.peer_max_frame(), std::memory_order_relaxed);
    }

    session_record load() const
    {
        session_record r;
        r.id = id;
        r.remote_address = remote_address;
        r.context = context;
        r.version = version;
        r.interval = duration(interval.load(std::memory_order_relaxed));
        r.misses = misses.load(std::memory_order_relaxed);
        r.peer_max_frame = peer_max_frame.load(std::memory_order_relaxed);
        r.rtt = detail::rtt_cell::load(rtt.smoothed);
        r.rtt_variation = detail::rtt_cell::load(rtt.variation);
        r.last_rtt = detail::rtt_cell::load(rtt.last);
        r.kernel_rtt = detail::rtt_cell::load(rtt.kernel);
        return r;
    }

    const Key id;
    const std::string remote_address;
    const peer_context context;
    const std::uint8_t version;
    detail::rtt_cell rtt;
    std::atomic<typename duration::rep> interval{0};
    std::atomic<unsigned> misses{0};
    std::atomic<std::size_t> peer_max_frame{0};
};

// An authenticator's open question: the HELLO's id and credential (the
// views it was handed point here), and where the answer goes.
template <class Stream, class Key, class Policy>
struct watcher<Stream, Key, Policy>::auth_handler::pending {
    pending(const std::shared_ptr<impl>& o, const std::shared_ptr<session>& s, std::string_view i, std::string_view c,
            std::string r)
        : owner(o), asker(s), strand(o->strand), id(i), credential(c), remote(std::move(r))
    {
    }
    std::weak_ptr<impl> owner;
    std::weak_ptr<session> asker;
    executor_type strand;
    // What hello_info's views point at, for as long as a handler exists
    // (the session may be long gone when a slow check answers).
    std::string id;
    std::string credential;
    std::string remote;
    std::atomic<bool> answered{false};
};

template <class Stream, class Key, class Policy>
void watcher<Stream, Key, Policy>::auth_handler::operator()(auth_verdict verdict) const
{
    if (!p_ || p_->answered.exchange(true))
        return;
    net::dispatch(p_->strand, [p = p_, verdict = std::move(verdict)]() mutable {
        auto o = p->owner.lock();
        auto s = p->asker.lock();
        if (o && s)
            o->on_verdict(s, p, std::move(verdict));
    });
}

template <class Stream, class Key, class Policy>
struct watcher<Stream, Key, Policy>::impl : std::enable_shared_from_this<impl> {
    using action = typename session::machine_type::action;
    using kind = typename action::kind;
    using admission = typename session::machine_type::admission;
    using session_ptr = std::shared_ptr<session>;

    impl(const typename Stream::executor_type& ex, const options& o)
        : strand(net::make_strand(ex)), opts(o), table(strand, make_registry_options(o)),
          governor(o.overload.governor)
    {
        // The terms, read once: the registry's policy has clamped its
        // default interval.
        const auto detection =
            table.locked([](const registry_type& r) { return r.policy().get_options(); });
        session_options = std::make_shared<const typename session::machine_type::options>(
            make_session_options(o, detection));
        session_options_detection = {detection.min_interval, detection.max_interval};
        table.set_handler([this](const event_type& e) { on_event(e); });
        table.on_swept([this](time_point now, duration late) { swept(now, late); });
        table.start(); // idle until the first peer comes online
    }

    static typename registry_type::options make_registry_options(const options& o)
    {
        typename registry_type::options r;
        r.detection = o.detection;
        r.pause_threshold = o.pause_threshold;
        r.pause_grace = o.pause_grace;
        r.lag_threshold = o.overload.lag_threshold;
        r.max_peers = o.max_peers;
        r.wall_clock = o.wall_clock;
        return r;
    }

    // What every session is held to; `detection` is the policy's options as
    // the registry clamped them.
    static typename server_session<clock_type>::options make_session_options(const options& o,
                                                                             const typename Policy::options& detection)
    {
        typename server_session<clock_type>::options s;
        s.hello_timeout = o.hello_timeout;
        s.close_timeout = o.close_timeout;
        s.max_frame = o.max_frame;
        s.max_send_queue = o.max_send_queue;
        s.max_frame_rate = o.max_frame_rate;
        s.max_frame_burst = o.max_frame_burst;
        s.rtt_sample_interval = o.rtt_sample_interval;
        s.probe_interval = o.probe_interval;
        // A transport whose peers may run no library (WebSocket ping mode)
        // is alive only through its probes: by default one per interval.
        if constexpr (detail::has_async_probe<Stream>::value) {
            if (s.probe_interval <= duration::zero())
                s.probe_interval = detection.interval;
        }
        s.on_duplicate = o.on_duplicate;
        s.close_on_timeout = o.close_on_timeout;
        s.default_interval = detection.interval;
        s.max_version = o.max_version;
        s.peer_max_frame = o.peer_max_frame;
        s.server_full_retry_after = std::chrono::duration_cast<duration>(o.server_full_retry_after);
        // A miss-counting policy states its own N; an adaptive one has none,
        // so the client is told the watcher's client_misses.
        if constexpr (counts_echoes_v<Policy>) {
            s.misses = detection.misses;
            s.grace = detection.grace;
        }
        else {
            s.misses = o.client_misses;
            s.detection = wire::detection_kind::adaptive;
        }
        return s;
    }

    executor_type strand;
    options opts;
    // On a stream socket every session is read on readiness into this one
    // buffer (impl::read_ready): the strand runs one at a time.
    static constexpr bool reads_on_readiness = detail::is_stream_socket<Stream>::value;
    std::vector<std::uint8_t> read_buffer =
        std::vector<std::uint8_t>(reads_on_readiness ? std::max<std::size_t>(opts.read_buffer_size, 16 * 1024) : 0);
    // One copy for every session (each holds a pointer, not 80 bytes).
    std::shared_ptr<const typename session::machine_type::options> session_options;
    std::pair<duration, duration> session_options_detection; // [min, max] interval the policy holds peers to
    detail::live_registry<Key, Policy, executor_type> table;
    std::unordered_map<Key, session_ptr> online; // key -> owning session
    std::unordered_set<session_ptr> sessions;
    std::atomic<std::size_t> session_count{0};
    std::atomic<std::uint64_t> frames_in{0};
    detail::session_table<Key, record_cell> records;
    std::function<void(const Key&)> cb_online;
    std::function<void(const Key&, offline_reason)> cb_offline;
    std::function<void(const event_type&)> cb_event;
    std::vector<std::function<void(const event_type&)>> subscribers;
    std::function<void(const Key&, std::string_view)> cb_message;
    std::function<void(const refusal&)> cb_refused;
    async_authenticator auth;
    std::atomic<std::uint64_t> refused{0};
    // The accept loops, and the handshakes in progress they are held to.
    detail::accept_gate accepting{opts.max_handshakes};
    // The watcher's own lag, and what it does about it (options::overload).
    load_governor<clock_type> governor;
    // While overloaded or slowed down, a lag sample at least every
    // lag_probe_period even when the sweeper has nothing due (no peer left
    // to sweep must not leave the verdict stuck at "overloaded").
    static constexpr std::chrono::milliseconds lag_probe_period{100};
    net::basic_waitable_timer<clock_type, net::wait_traits<clock_type>, executor_type> lag_probe{strand};
    std::optional<time_point> lag_probe_at;
    std::atomic<double> slowdown{1.0};
    std::atomic<typename duration::rep> lag{0};
    bool stopped = false;

    // On the strand, in registry order, outside the lock.
    void on_event(const event_type& e)
    {
        session_ptr timed_out;
        if (e.kind == transition::offline && e.reason == offline_reason::timeout) {
            if (auto it = online.find(e.key); it != online.end()) {
                timed_out = it->second;
                timed_out->reporting_offline = true; // its record stays for the callbacks
                timed_out->machine.timed_out(e.at);
                run(timed_out);
            }
        }
        report(e);
        if (timed_out)
            timed_out->reporting_offline = false;
        if (e.kind == transition::offline)
            retire_record(e.key);
    }

    void report(const event_type& e)
    {
        if (stopped && e.reason != offline_reason::shutdown)
            return;
        if (cb_event)
            cb_event(e);
        for (auto& f : subscribers)
            f(e);
        if (e.kind == transition::online) {
            if (cb_online)
                cb_online(e.key);
        }
        else if (cb_offline) {
            cb_offline(e.key, e.reason);
        }
    }

    // ---- the action loop ------------------------------------------------

    // Carries out the machine's actions until it waits for input. Inputs
    // that arrive from callbacks meanwhile only queue actions, which this
    // loop then takes.
    void run(const session_ptr& s)
    {
        if (s->in_loop)
            return;
        s->in_loop = true;
        while (carry_out(s, s->machine.next())) {
        }
        s->in_loop = false;
        if (s->record)
            s->record->update(s->machine);
        table.deliver();
    }

    bool carry_out(const session_ptr& s, const action& a)
    {
        switch (a.type) {
        case kind::idle: return false;
        case kind::read: read(s); return false;
        case kind::handshake: handshake(s); return true;
        case kind::authenticate: authenticate(s, a); return true;
        case kind::admit: admit(s, a); return true;
        case kind::touch: table.locked([&](registry_type& r) { return r.touch(s->handle, a.at); }); return true;
        case kind::write:
            s->out.push_frame(a.data, a.size, a.urgent);
            flush(s);
            return true;
        case kind::deliver:
            if (cb_message && !stopped && s->key)
                cb_message(*s->key, a.bytes());
            return true;
        case kind::sample_rtt: sample_rtt(s); return true;
        case kind::measured_rtt:
            if (s->rtt) {
                detail::rtt_cell::store(s->rtt->smoothed, s->machine.smoothed_rtt());
                detail::rtt_cell::store(s->rtt->variation, s->machine.rtt_variation());
                detail::rtt_cell::store(s->rtt->last, s->machine.last_rtt());
            }
            return true;
        case kind::hold:
            table.locked([&](registry_type& r) { return r.set_terms(s->handle, a.interval, a.misses); });
            table.rearm();
            return true;
        case kind::probe: probe(s); return true; // the transport's own (a WebSocket ping); TCP has none
        case kind::release: release(s, a.reason); return true;
        case kind::wait_until: arm(s, a.at); return true;
        case kind::cancel_timer: s->timer.reset(); return true;
        case kind::close_after:
            if (a.cause)
                refuse(s, *a.cause);
            s->out.close_after(a.data, a.size);
            flush(s);
            return true;
        case kind::close:
            if (a.cause)
                refuse(s, *a.cause);
            close_now(s);
            return true;
        }
        return false;
    }

    // ---- inputs (the transport's are in impl/watcher_transport.hpp) ----------

    void start_session(Stream stream, bool run_handshake);

    // The machine waits for the transport's handshake (it runs the hello
    // deadline meanwhile).
    void handshake(const session_ptr& s);

    void on_handshake(const session_ptr& s, const error_code& ec);
    void take_transport_identity(const session_ptr& s);
    void probe(const session_ptr& s);
    // A slot of max_handshakes is free again: parked accept loops go on.
    void handshake_ended(const session_ptr& s);

    // ---- refusals ---------------------------------------------------------------

    // The machine ends a session with `cause`: a refusal if the peer never
    // came online.
    void refuse(const session_ptr& s, error cause)
    {
        if (s->admitted || stopped || cause == error::shutting_down || cause == error::handshake_failed)
            return;
        report_refusal(s, cause);
    }

    void report_refusal(const session_ptr& s, const error_code& ec)
    {
        refused.fetch_add(1, std::memory_order_relaxed);
        if (!cb_refused)
            return;
        refusal r{ec, remote_address(s), std::nullopt};
        if (s->claimed)
            r.claimed_id.emplace(*s->claimed);
        else if (s->asked) // never answered: the hello timeout
            r.claimed_id.emplace(s->asked->id);
        cb_refused(r);
    }

    const std::string& remote_address(const session_ptr& s)
    {
        if (!s->remote)
            s->remote = detail::remote_address(s->stream);
        return *s->remote;
    }

    void read(const session_ptr& s);
    void on_read(const session_ptr& s, const error_code& ec, std::size_t n);
    void read_ready(const session_ptr& s, const error_code& ec);
    void arm(const session_ptr& s, time_point at);

    // ---- authenticating ---------------------------------------------------------

    // The machine holds the peer's input until authenticated() (here, or
    // later from on_verdict), and its hello deadline runs meanwhile.
    void authenticate(const session_ptr& s, const action& a)
    {
        if (!auth) {
            s->machine.authenticated(std::nullopt, clock_type::now());
            return;
        }
        s->asked = std::make_shared<typename auth_handler::pending>(this->shared_from_this(), s, a.id, a.credential,
                                                                    remote_address(s));
        const hello_info h{s->asked->id, s->asked->credential, a.interval, s->asked->remote};
        const auto ask = auth; // it may replace itself
        ask(h, auth_handler(s->asked));
    }

    // On the strand: an answer to `question`, carried out unless the
    // session has moved on (the hello timeout, a close, stop()).
    void on_verdict(const session_ptr& s, const std::shared_ptr<typename auth_handler::pending>& question,
                    auth_verdict v)
    {
        if (stopped || s->asked != question || s->machine.state() != session::machine_type::phase::authenticating)
            return;
        std::optional<error> refusal_error;
        if (v.error)
            refusal_error = v.error.category() == heartbeat_category() ? static_cast<error>(v.error.value())
                                                                 : error::auth_failed;
        if (refusal_error)
            s->claimed = std::make_unique<Key>(question->id);
        else
            s->context = std::move(v.context);
        s->asked.reset();
        s->machine.authenticated(refusal_error, clock_type::now());
        run(s); // returns at once when the answer came inside authenticate()
    }

    static async_authenticator answering_at_once(authenticator f)
    {
        if (!f)
            return nullptr;
        return [f = std::move(f)](const hello_info& h, const auth_handler& done) { done(f(h)); };
    }

    void admit(const session_ptr& s, const action& a)
    {
        Key key(a.id);
        admission r;
        if (refusing_newcomers()) {
            r.result = admission::outcome::full;
            s->claimed = std::make_unique<Key>(std::move(key));
            s->machine.admitted(r, a.at);
            return;
        }
        if (auto it = online.find(key); it != online.end()) {
            if (!a.replace) {
                r.result = admission::outcome::taken;
                s->claimed = std::make_unique<Key>(std::move(key));
                s->machine.admitted(r, a.at);
                return;
            }
            auto old = it->second;
            old->machine.replaced(a.at);
            run(old); // releases the id, then says goodbye
            if (stopped)
                return; // a callback of the replaced peer's offline stopped us
        }
        table.locked([&](registry_type& reg) {
            s->handle = reg.touch(key, a.at);
            if (s->handle.valid())
                r.held = *reg.set_interval(s->handle, a.interval);
        });
        if (!s->handle.valid()) {
            r.result = admission::outcome::full;
            s->claimed = std::make_unique<Key>(std::move(key));
        }
        else {
            s->admitted = true;
            s->key.emplace(std::move(key));
            open_record(s);
            online.emplace(*s->key, s);
            table.rearm();
        }
        s->machine.admitted(r, a.at);
        if (s->admitted) {
            s->base_interval = s->machine.held_interval();
            s->base_misses = s->machine.held_misses();
            if (slowdown.load(std::memory_order_relaxed) > 1 && s->machine.version() >= wire::protocol_version_2)
                net::post(strand, [self = this->shared_from_this(), weak = std::weak_ptr<session>(s)] {
                    if (auto live = weak.lock(); live && !self->stopped && live->machine.state()
                                                          == session::machine_type::phase::online)
                        self->apply_terms(live);
                });
        }
    }

    void sample_rtt(const session_ptr& s)
    {
        if (!s->key)
            return;
        if (!s->rtt)
            return;
        if (const auto rtt = detail::kernel_rtt(s->stream))
            detail::rtt_cell::store(s->rtt->kernel, std::optional<std::chrono::microseconds>(*rtt));
    }

    // Takes the session's peer out of the registry (its event is delivered
    // when the action loop ends).
    void release(const session_ptr& s, offline_reason reason)
    {
        if (!s->key)
            return;
        auto it = online.find(*s->key);
        if (it != online.end() && it->second == s)
            online.erase(it);
        const bool raises_event = table.locked([&](registry_type& r) {
            const bool was_online = r.status(*s->key) == peer_status::online;
            r.remove(s->handle, reason);
            return was_online;
        });
        // A peer already offline (timed out, its session kept open) has had
        // its event: nothing else will drop its record.
        if (!raises_event && !s->reporting_offline)
            retire_record(*s->key);
        s->record.reset();
        s->rtt.reset();
        s->key.reset();
    }

    // ---- session records ----------------------------------------------------------

    void open_record(const session_ptr& s)
    {
        auto cell = std::make_shared<record_cell>(*s->key, remote_address(s), std::move(s->context),
                                                  s->machine.version());
        cell->update(s->machine);
        s->rtt = std::shared_ptr<detail::rtt_cell>(cell, &cell->rtt);
        s->record = cell;
        records.open(*s->key, std::move(cell));
    }

    // After the callbacks of `key`'s offline event: its record goes, unless
    // a session holds the id again (a replacement admitted meanwhile, or a
    // timed-out peer whose session stays open).
    void retire_record(const Key& key)
    {
        if (online.find(key) == online.end())
            records.erase(key);
    }

    // ---- server controls ----------------------------------------------------------

    void kick(const Key& id, std::optional<error> why)
    {
        auto it = online.find(id);
        if (it == online.end())
            return;
        auto s = it->second;
        if (s->in_loop) {
            // Called from a callback of this session's own action loop: the
            // machine may hold a frame not yet handed out, so the kick waits
            // for the loop to end.
            net::post(strand, [self = this->shared_from_this(), id, why] { self->kick(id, why); });
            return;
        }
        if (s->machine.kick(clock_type::now(), why))
            run(s);
    }

    send_result send_reporting(const Key& id, const detail::shared_bytes& frame)
    {
        auto it = online.find(id);
        if (it == online.end())
            return {};
        const auto s = it->second; // an overflow erases the map's copy
        if (!frame)
            return {send_verdict::too_large, s->out.bytes()};
        return enqueue(s, frame);
    }

    broadcast_result broadcast_reporting(const detail::shared_bytes& frame)
    {
        broadcast_result r;
        if (!frame) {
            r.dropped = online.size();
            return r;
        }
        for (auto& s : online_sessions()) {
            const auto one = enqueue(s, frame);
            if (one.verdict == send_verdict::queued)
                ++r.queued;
            else if (one.verdict != send_verdict::not_online)
                ++r.dropped;
            r.max_queued_bytes = std::max(r.max_queued_bytes, one.queued_bytes);
        }
        return r;
    }

    // A copy: enqueueing may close a session, and a callback change the map.
    std::vector<session_ptr> online_sessions() const
    {
        std::vector<session_ptr> all;
        all.reserve(online.size());
        for (auto& kv : online)
            all.push_back(kv.second);
        return all;
    }

    static error_code to_error_code(send_verdict v)
    {
        switch (v) {
        case send_verdict::queued: return {};
        case send_verdict::not_online: return net::error::not_connected;
        case send_verdict::too_large: return error::message_too_large;
        case send_verdict::overflow: return error::send_queue_full;
        }
        return error::protocol_error;
    }

    // ---- writing --------------------------------------------------------------

    void flush(const session_ptr& s);
    void written(const session_ptr& s, detail::outbox::outcome next);

    // New terms for an online version 2 peer (set_terms), clamped as the
    // policy holds peers, and stretched by the overload slowdown.
    void renegotiate(const Key& id, duration interval, unsigned misses)
    {
        auto it = online.find(id);
        if (it == online.end())
            return;
        auto s = it->second;
        if (s->in_loop) { // as kick: after the loop's pending frame is out
            net::post(strand, [self = this->shared_from_this(), id, interval, misses] {
                self->renegotiate(id, interval, misses);
            });
            return;
        }
        if (s->machine.version() < wire::protocol_version_2 || interval <= duration::zero() || misses == 0)
            return;
        s->base_interval = interval;
        s->base_misses = std::min(misses, 255u); // as the wire carries them
        apply_terms(s);
    }

    // Sends `s` its base terms stretched by the slowdown, if they differ
    // from what it is held to (or about to be).
    void apply_terms(const session_ptr& s)
    {
        if (s->base_interval <= duration::zero() || s->base_misses == 0)
            return; // not admitted yet: admission sets them
        const auto& bounds = session_options_detection;
        const double factor = slowdown.load(std::memory_order_relaxed);
        const auto stretched = std::chrono::duration_cast<duration>(
            std::chrono::duration<double, typename duration::period>(static_cast<double>(s->base_interval.count()) * factor));
        const auto held = std::clamp(stretched, bounds.first, bounds.second);
        if (s->machine.latest_interval() == held && s->machine.latest_misses() == s->base_misses)
            return;
        if (s->machine.renegotiate(clock_type::now(), held, s->base_misses))
            run(s);
    }

    // ---- overload ---------------------------------------------------------------

    // After every sweep: its lateness is the watcher's own lag.
    void swept(time_point now, duration late)
    {
        if (stopped)
            return;
        const bool changed = governor.sample(now, late);
        lag.store(governor.lag().count(), std::memory_order_relaxed);
        if (opts.overload.govern && (governor.overloaded() || governor.slowdown() > 1.0))
            probe_lag(now);
        if (!changed || !opts.overload.govern)
            return;
        slowdown.store(governor.slowdown(), std::memory_order_relaxed);
        // New terms for every version 2 peer, after this sweep's events.
        net::post(strand, [self = this->shared_from_this()] {
            if (self->stopped)
                return;
            for (auto& s : self->online_sessions())
                if (!self->stopped && s->machine.version() >= wire::protocol_version_2) // a callback may stop us
                    self->apply_terms(s);
        });
    }

    // Arms the lag probe unless it is armed: its lateness is a sample too.
    void probe_lag(time_point now)
    {
        if (lag_probe_at)
            return;
        lag_probe_at = now + lag_probe_period;
        lag_probe.expires_at(*lag_probe_at);
        lag_probe.async_wait([weak = this->weak_from_this()](const error_code& ec) {
            auto self = weak.lock();
            if (!self || ec || !self->lag_probe_at)
                return;
            const auto due = *std::exchange(self->lag_probe_at, std::nullopt);
            const auto fired = clock_type::now();
            self->swept(fired, fired - due);
        });
    }

    // A newcomer while the watcher is overloaded is refused (server_full).
    bool refusing_newcomers() const
    {
        return opts.overload.govern && opts.overload.refuse_newcomers && governor.overloaded();
    }

    void send_to(const Key& id, const detail::shared_bytes& frame)
    {
        auto it = online.find(id);
        if (it != online.end())
            enqueue(session_ptr(it->second), frame); // a copy: an overflow erases the map's
    }

    void broadcast(const detail::shared_bytes& frame)
    {
        for (auto& s : online_sessions())
            enqueue(s, frame);
    }

    send_result enqueue(const session_ptr& s, const detail::shared_bytes& frame);

    // ---- ending sessions -----------------------------------------------------

    void close_now(const session_ptr& s);

    // ---- accepting ------------------------------------------------------------

    // One accept_from(): its acceptor, how a stream is made from a socket,
    // and its own retry timer (a transient error such as EMFILE hits every
    // acceptor at once; a shared timer would cancel the others' waits).
    template <class Acceptor, class Make, class SocketExecutor>
    struct listener {
        listener(Acceptor* a, Make m, const SocketExecutor& sockets, const executor_type& ex)
            : acceptor(a), make(std::move(m)), socket_executor(sockets), retry(ex)
        {
        }
        Acceptor* acceptor;
        Make make;
        SocketExecutor socket_executor; // the accepted sockets' (and so their type)
        net::steady_timer retry;
    };

    template <class Acceptor, class Make, class SocketExecutor>
    static void accept_from(const std::shared_ptr<impl>& self, Acceptor* a, Make make, const SocketExecutor& sockets);

    template <class Listener>
    static void accept_next(const std::shared_ptr<impl>& self, const std::shared_ptr<Listener>& l);

    // ---- stopping ---------------------------------------------------------------

    void shutdown()
    {
        if (stopped)
            return;
        stopped = true;
        table.stop();
        lag_probe_at.reset();
        lag_probe.cancel();
        accepting.stop();
        const std::vector<session_ptr> all(sessions.begin(), sessions.end());
        const auto now = clock_type::now();
        for (auto& s : all) {
            // Welcomed peers hear it is deliberate, so they reconnect
            // elsewhere instead of waiting out their timeout.
            s->machine.shutdown(now);
            run(s);
        }
        online.clear();
        table.locked([](registry_type& r) { r.clear(offline_reason::shutdown); });
        table.deliver();
        cb_online = nullptr;
        cb_offline = nullptr;
        cb_message = nullptr;
        cb_refused = nullptr;
        auth = nullptr;
    }
};

// The asynchronous sends' initiations: the verdict is reached on the
// strand, and the handler runs on its own executor (never inside the call).
template <class Stream, class Key, class Policy>
struct watcher<Stream, Key, Policy>::send_initiation {
    std::shared_ptr<impl> self;
    using executor_type = typename watcher::executor_type;
    executor_type get_executor() const noexcept { return self->strand; }

    template <class Handler>
    void operator()(Handler&& h, const Key& id, detail::shared_bytes frame) const
    {
        detail::erased_handler<error_code, send_result> done(std::forward<Handler>(h), self->strand);
        net::dispatch(self->strand, [o = self, id, frame = std::move(frame), done = std::move(done)]() mutable {
            if (o->stopped)
                return done.complete(error::shutting_down, send_result{});
            const auto r = o->send_reporting(id, frame);
            done.complete(impl::to_error_code(r.verdict), r);
        });
    }
};

template <class Stream, class Key, class Policy>
struct watcher<Stream, Key, Policy>::broadcast_initiation {
    std::shared_ptr<impl> self;
    using executor_type = typename watcher::executor_type;
    executor_type get_executor() const noexcept { return self->strand; }

    template <class Handler>
    void operator()(Handler&& h, detail::shared_bytes frame) const
    {
        detail::erased_handler<error_code, broadcast_result> done(std::forward<Handler>(h), self->strand);
        net::dispatch(self->strand, [o = self, frame = std::move(frame), done = std::move(done)]() mutable {
            if (o->stopped)
                return done.complete(error::shutting_down, broadcast_result{});
            const auto r = o->broadcast_reporting(frame);
            done.complete(frame ? error_code{} : error_code(error::message_too_large), r);
        });
    }
};

} // namespace heartbeat

#include <heartbeat/impl/watcher_transport.hpp>

#endif
