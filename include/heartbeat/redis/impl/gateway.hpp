// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_REDIS_IMPL_GATEWAY_HPP
#define HEARTBEAT_REDIS_IMPL_GATEWAY_HPP

// The gateway's machinery, on its strand: the queue of transitions (sent in
// order, at most max_in_flight unanswered, replayed after a reconnection),
// the lease renewal that also reaps dead gateways, the resync that rewrites
// this gateway's share from its own view, and the clean leave. Included by
// redis/gateway.hpp at its end (and including it first, so that this file
// also compiles on its own).

#include <heartbeat/redis/gateway.hpp>

#include <heartbeat/detail/erased_handler.hpp>
#include <heartbeat/redis/detail/connection.hpp>
#include <heartbeat/redis/detail/gateway_scripts.hpp>

#include <algorithm>
#include <atomic>
#include <deque>
#include <random>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace heartbeat::redis {

template <class Executor>
struct basic_gateway<Executor>::impl : std::enable_shared_from_this<impl> {
    using script = detail::gateway_scripts;
    using timer_type =
        net::basic_waitable_timer<std::chrono::steady_clock, net::wait_traits<std::chrono::steady_clock>, executor_type>;

    struct transition_record {
        std::uint64_t seq;
        bool online;
        std::string id;
        std::int64_t at_ms;
        offline_reason reason;
    };

    impl(executor_type e, options o)
        : ex(std::move(e)), opts(std::move(o)), conn(std::make_shared<detail::connection<executor_type>>(ex, opts.redis)),
          tick_timer(ex), scripts(opts.redis.prefix, opts.name)
    {
        if (opts.name.empty() || opts.name.find('\t') != std::string::npos)
            throw std::invalid_argument("heartbeat::redis::gateway: the name must be non-empty, without tabs");
        std::random_device rd;
        token = std::to_string(rd()) + "-" + std::to_string(rd()) + "-"
                + std::to_string(cluster_now().time_since_epoch().count());
    }

    template <class F>
    void post(F&& f)
    {
        net::post(ex, std::forward<F>(f));
    }

    void local_online(std::string id)
    {
        post([self = this->shared_from_this(), id = std::move(id), at = cluster_now()]() mutable {
            self->record(true, std::move(id), at, offline_reason::none);
        });
    }

    void local_offline(std::string id, offline_reason why)
    {
        post([self = this->shared_from_this(), id = std::move(id), at = cluster_now(), why]() mutable {
            self->record(false, std::move(id), at, why);
        });
    }

    // ---- on the strand from here on ----

    void start()
    {
        if (started || halted)
            return;
        started = true;
        if (opts.cache_scripts)
            conn->preload_scripts(scripts.preloaded());
        conn->on_up = [this] { connected(); };
        conn->on_down = [this] {
            up = false;
            sent = 0; // in flight when the connection went: unknown fate, so sent again
        };
        conn->start();
        arm_tick();
    }

    void record(bool online_now, std::string id, cluster_time at, offline_reason why)
    {
        if (halted)
            return; // left or destroyed: nothing more goes to Redis
        const auto ms = at.time_since_epoch().count();
        if (online_now)
            online[id] = ms;
        else
            online.erase(id);
        if (queue.size() >= opts.max_queued) {
            // Replaying is no longer possible; the view in `online` will be
            // written out whole instead.
            overflowed += queue.size() + 1;
            queue.clear();
            sent = 0;
            queued = 0;
            need_resync = true;
            return;
        }
        queue.push_back({++last_seq, online_now, std::move(id), ms, why});
        queued = queue.size();
        if (conn->connected() && !need_resync)
            send_next();
    }

    void connected()
    {
        up = true;
        if (need_resync) {
            send_resync();
            return;
        }
        // The lease first: if it went while we were away, the replay is
        // superseded by a resync (pipelined behind it, in order).
        send_tick();
        replayed += queue.size() - sent;
        send_next();
    }

    std::size_t window() const { return std::max<std::size_t>(1, opts.max_in_flight); }

    // Sends queued transitions until `limit` are unanswered.
    void send_next() { send_next(window()); }
    void send_next(std::size_t limit)
    {
        while (sent < queue.size() && sent < limit) {
            const auto& t = queue[sent++];
            const auto at = std::to_string(t.at_ms);
            const auto args = t.online ? eval(script::online, {t.id, at})
                                       : eval(script::offline, {t.id, std::string(to_string(t.reason)), at});
            conn->command(args, [self = this->shared_from_this(), seq = t.seq](error_code ec, detail::reply r) {
                if (ec || self->scripts_forgotten(r))
                    return; // not acknowledged: sent again on the next connection
                if (r.type == detail::reply::kind::error) {
                    // Refused (out of memory, a read-only replica...): the
                    // view is written out whole once Redis accepts.
                    ++self->errors;
                    self->need_resync = true;
                }
                self->acknowledged(seq);
                if (!self->need_resync && !self->halted && self->conn->connected())
                    self->send_next();
            });
        }
    }

    void acknowledged(std::uint64_t seq)
    {
        while (!queue.empty() && queue.front().seq <= seq) {
            queue.pop_front();
            if (sent > 0)
                --sent;
        }
        queued = queue.size();
    }

    void send_resync()
    {
        need_resync = false;
        queue.clear();
        sent = 0;
        queued = 0;
        ++resyncs;
        // The first resync of a process releases what an earlier
        // incarnation held; later ones release this one's own.
        const auto why = first_sync ? cluster_reason::gateway_lost : cluster_reason::resynced;
        auto args = eval(script::resync, {token, ttl_ms(), now_ms(), std::string(to_string(why))});
        args.reserve(args.size() + 2 * online.size());
        for (const auto& [id, since] : online) {
            args.push_back(id);
            args.push_back(std::to_string(since));
        }
        conn->command(args, [self = this->shared_from_this()](error_code ec, detail::reply r) {
            if (ec || r.type == detail::reply::kind::error) {
                if (!ec && !self->scripts_forgotten(r))
                    ++self->errors;
                self->need_resync = true; // next connection, or next tick
                return;
            }
            self->first_sync = false;
        });
    }

    void send_tick()
    {
        const auto batch = std::to_string(std::max<std::size_t>(1, opts.reap_batch));
        ++ticks_in_flight;
        conn->command(eval(script::tick, {token, ttl_ms(), now_ms(), batch}),
                      [self = this->shared_from_this()](error_code ec, detail::reply r) {
                          --self->ticks_in_flight;
                          if (ec || self->scripts_forgotten(r))
                              return; // the next connection renews first thing
                          self->ticked(r);
                      });
    }

    // The renewal's answer: {lease held, gateways reaped, more to reap}.
    void ticked(const detail::reply& r)
    {
        if (r.type != detail::reply::kind::array || r.elements.size() != 3) {
            ++errors;
            return;
        }
        reaped += static_cast<std::uint64_t>(r.elements[1].integer);
        if (r.elements[0].integer == 0 && !need_resync) {
            ++lease_lost;
            send_resync();
        }
        else if (r.elements[2].integer != 0 && ticks_in_flight == 0 && !halted && conn->connected()) {
            // The next batch of a dead gateway's peers, one at a time: Redis
            // runs a client's pipelined commands back to back.
            send_tick();
        }
    }

    void arm_tick()
    {
        tick_timer.expires_after(opts.lease_refresh);
        tick_timer.async_wait([self = this->shared_from_this()](const error_code& ec) {
            if (ec || self->halted)
                return;
            if (self->conn->connected()) {
                if (self->need_resync)
                    self->send_resync();
                else if (self->ticks_in_flight == 0) // one in flight renews as well
                    self->send_tick();
            }
            self->arm_tick();
        });
    }

    void leave(heartbeat::detail::erased_handler<error_code> done)
    {
        tick_timer.cancel();
        if (!conn->connected() || halted) {
            halt();
            done.complete(net::error::not_connected);
            return;
        }
        if (need_resync)
            send_resync();
        else
            send_next(queue.size()); // every real reason ahead of the leave's "shutdown"
        // Shared: the connection's callbacks are copyable std::functions.
        auto pending = std::make_shared<heartbeat::detail::erased_handler<error_code>>(std::move(done));
        conn->command(eval(script::leave, {token, now_ms()}),
                      [self = this->shared_from_this(), pending](error_code ec, detail::reply r) {
                          self->halt();
                          if (!ec && r.type == detail::reply::kind::error)
                              ec = net::error::operation_not_supported;
                          pending->complete(ec);
                      });
    }

    void halt()
    {
        halted = true;
        tick_timer.cancel();
        conn->on_up = nullptr;
        conn->on_down = nullptr;
        conn->stop();
        up = false;
    }

    // Runs script `which`: by SHA1 when this connection loaded it, else whole.
    std::vector<std::string> eval(script::which w, std::initializer_list<std::string> rest) const
    {
        return scripts.command(w, conn->script_sha(w), rest);
    }

    // Redis lost its script cache since this connection loaded it:
    // connecting again loads the scripts, and every command not
    // acknowledged is sent again.
    bool scripts_forgotten(const detail::reply& r)
    {
        if (!script::forgotten(r))
            return false;
        if (conn->connected()) {
            ++script_reloads;
            conn->reconnect();
        }
        return true;
    }

    std::string ttl_ms() const { return std::to_string(opts.lease_ttl.count()); }
    static std::string now_ms() { return std::to_string(cluster_now().time_since_epoch().count()); }

    executor_type ex;
    options opts;
    std::shared_ptr<detail::connection<executor_type>> conn;
    timer_type tick_timer;
    script scripts;
    std::string token;
    std::unordered_map<std::string, std::int64_t> online; // the gateway's own view
    std::deque<transition_record> queue;                  // [0, sent) in flight
    std::size_t sent = 0;
    std::uint64_t last_seq = 0;
    bool started = false;
    bool halted = false;
    std::size_t ticks_in_flight = 0;
    bool need_resync = true; // the first connection writes the view out
    bool first_sync = true;

    std::atomic<bool> up{false};
    std::atomic<std::size_t> queued{0};
    std::atomic<std::uint64_t> replayed{0}, overflowed{0}, resyncs{0}, reaped{0}, lease_lost{0}, errors{0},
        script_reloads{0};
};

} // namespace heartbeat::redis

#endif
