// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_REDIS_GATEWAY_HPP
#define HEARTBEAT_REDIS_GATEWAY_HPP

// heartbeat::redis::gateway: makes one server process (a "gateway") part of
// cluster-wide presence. It publishes its watcher's online/offline
// transitions to Redis, holds a lease that says the gateway is alive, and
// reaps gateways whose lease ran out: their peers go offline cluster-wide
// with reason gateway_lost, each published by exactly one survivor.
//
// While Redis is unreachable the watcher is not affected; transitions wait
// in a bounded queue and are replayed in order on reconnection. If the
// queue overflowed, or Redis lost the gateway's lease meanwhile (a restart
// without persistence, or an outage longer than the lease), the gateway
// instead rewrites its share of Redis from its own view of who is online.
// docs/CLUSTER.md has the data model, guarantees and limits.

#include <heartbeat/detail/erased_handler.hpp>
#include <heartbeat/redis/detail/connection.hpp>
#include <heartbeat/redis/detail/scripts.hpp>
#include <heartbeat/redis/types.hpp>

#include <algorithm>
#include <atomic>
#include <deque>
#include <initializer_list>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace heartbeat::redis {

class gateway {
public:
    struct options {
        /// This gateway's name, unique in the cluster, stable across
        /// restarts (a restarted gateway takes its old name's records
        /// over). Must not contain a tab.
        std::string name;
        redis_options redis;
        /// The lease: a gateway that does not renew it for this long is
        /// dead to the others. Renewal (and reaping of others) runs every
        /// lease_refresh; a dead gateway's peers go offline within about
        /// lease_ttl + lease_refresh.
        std::chrono::milliseconds lease_ttl{3000};
        std::chrono::milliseconds lease_refresh{1000};
        /// Transitions kept while Redis is unreachable; past this the queue
        /// is dropped and the gateway resynchronises on reconnection.
        std::size_t max_queued = 100'000;
        /// Load the scripts once per connection (SCRIPT LOAD) and run them
        /// by SHA1 (EVALSHA), about 100 bytes a transition; false sends each
        /// script whole (EVAL, about 2.5 KB), for a Redis whose ACL denies
        /// SCRIPT. A refused SCRIPT LOAD falls back to EVAL by itself.
        bool cache_scripts = true;
        /// Reaping a dead gateway releases at most this many of its peers
        /// per script, the batches back to back: Redis serves other
        /// clients between them instead of stalling (or answering BUSY)
        /// for as long as one script over a huge gateway would take
        /// (about 7 us a peer).
        std::size_t reap_batch = 10'000;
    };

    /// Counters, readable from any thread.
    struct statistics {
        bool connected;
        std::size_t queued;       ///< transitions not yet acknowledged by Redis
        std::uint64_t replayed;   ///< transitions sent again after a reconnection
        std::uint64_t overflowed; ///< transitions dropped from a full queue
        std::uint64_t resyncs;    ///< full rewrites of this gateway's share
        std::uint64_t reaped;     ///< dead gateways this one finished reaping
        std::uint64_t lease_lost; ///< times the lease was found gone
        std::uint64_t errors;     ///< error replies from Redis (each schedules a resync)
        std::uint64_t script_reloads; ///< connections made again because Redis forgot the scripts
    };

    using executor_type = net::strand<net::any_io_executor>;

    gateway(const net::any_io_executor& ex, options opts)
        : impl_(std::make_shared<impl>(executor_type(ex), std::move(opts)))
    {
    }

    template <class ExecutionContext,
              class = std::enable_if_t<std::is_convertible_v<ExecutionContext&, net::execution_context&>>>
    gateway(ExecutionContext& ctx, options opts) : gateway(net::any_io_executor(ctx.get_executor()), std::move(opts))
    {
    }

    gateway(const gateway&) = delete;
    gateway& operator=(const gateway&) = delete;

    /// Stops abruptly (no leave: the lease runs out, and survivors reap).
    ~gateway() { impl_->post([i = impl_] { i->halt(); }); }

    /// Feeds `w`'s transitions to this gateway. This takes `w`'s on_event
    /// slot; to keep your own handler there, call peer_online/peer_offline
    /// from it instead.
    template <class Watcher>
    void attach(Watcher& w)
    {
        w.on_event([i = impl_](const typename Watcher::event_type& e) {
            if (e.kind == transition::online)
                i->local_online(std::string(e.key));
            else
                i->local_offline(std::string(e.key), e.reason);
        });
    }

    /// Reports transitions by hand (thread-safe).
    void peer_online(std::string id) { impl_->local_online(std::move(id)); }
    void peer_offline(std::string id, offline_reason why) { impl_->local_offline(std::move(id), why); }

    /// Connects and keeps connecting; the gateway's peers appear in Redis
    /// once it is reachable.
    void start()
    {
        impl_->post([i = impl_] { i->start(); });
    }

    /// Leaves the cluster cleanly: flushes queued transitions, releases
    /// the remaining peers (offline, reason shutdown) and the lease. The
    /// handler gets not_connected if Redis could not be told (survivors
    /// then reap this gateway when its lease runs out).
    template <class CompletionToken>
    auto async_stop(CompletionToken&& token)
    {
        return net::async_initiate<CompletionToken, void(error_code)>(
            [i = impl_](auto handler) {
                auto done = std::make_shared<heartbeat::detail::erased_handler<error_code>>(std::move(handler), i->ex);
                i->post([i, done] { i->leave([done](error_code ec) { done->complete(ec); }); });
            },
            token);
    }

    statistics stats() const
    {
        return {impl_->up.load(),          impl_->queued.load(),     impl_->replayed.load(),
                impl_->overflowed.load(), impl_->resyncs.load(),    impl_->reaped.load(),
                impl_->lease_lost.load(), impl_->errors.load(),    impl_->script_reloads.load()};
    }

    executor_type get_executor() const noexcept { return impl_->ex; }

private:
    struct transition_record {
        std::uint64_t seq;
        bool online;
        std::string id;
        std::int64_t at_ms;
        offline_reason reason;
    };

    struct impl : std::enable_shared_from_this<impl> {
        // Indices into `lua`, and into the connection's preloaded scripts.
        // leave is last and never preloaded: it is sent whole, so a Redis
        // that forgot the scripts cannot turn a clean leave into a lease
        // that has to run out.
        enum script : std::size_t { online_script, offline_script, tick_script, resync_script, leave_script };

        impl(executor_type e, options o)
            : ex(std::move(e)), opts(std::move(o)), conn(std::make_shared<detail::connection<executor_type>>(ex, opts.redis)),
              tick_timer(ex)
        {
            if (opts.name.empty() || opts.name.find('\t') != std::string::npos)
                throw std::invalid_argument("heartbeat::redis::gateway: the name must be non-empty, without tabs");
            std::random_device rd;
            token = std::to_string(rd()) + "-" + std::to_string(rd()) + "-" + std::to_string(cluster_now().time_since_epoch().count());
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
            if (started)
                return;
            started = true;
            if (opts.cache_scripts)
                conn->preload_scripts(std::vector<std::string>(std::begin(lua), std::begin(lua) + leave_script));
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
            const auto ms = at.time_since_epoch().count();
            if (online_now)
                online[id] = ms;
            else
                online.erase(id);
            if (queue.size() >= opts.max_queued) {
                // Replaying is no longer possible; the view in `online`
                // will be written out whole instead.
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

        // Transitions in flight at most. Renewals share the connection, so
        // one sent now waits behind no more than these: a burst of 100,000
        // sent at once would hold it back past a short lease (about 1.2 s
        // at 85,000 a second), and the gateway would be reaped alive.
        static constexpr std::size_t max_in_flight = 1000;

        void send_next(std::size_t window = max_in_flight)
        {
            while (sent < queue.size() && sent < window) {
                const auto& t = queue[sent++];
                const auto at = std::to_string(t.at_ms);
                const auto args = t.online ? eval(online_script, {t.id, at})
                                           : eval(offline_script, {t.id, std::string(to_string(t.reason)), at});
                conn->command(args, [self = this->shared_from_this(), seq = t.seq](error_code ec, detail::reply r) {
                    if (ec || self->scripts_forgotten(r))
                        return; // not acknowledged: sent again on the next connection
                    if (r.type == detail::reply::kind::error) {
                        // Refused (out of memory, a read-only replica...):
                        // the view is written out whole once Redis accepts.
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
            auto args = eval(resync_script, {token, ttl_ms(), now_ms(),
                                          std::string(to_string(first_sync ? cluster_reason::gateway_lost
                                                                           : cluster_reason::resynced))});
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
            conn->command(eval(tick_script, {token, ttl_ms(), now_ms(), batch}),
                          [self = this->shared_from_this()](error_code ec, detail::reply r) {
                              --self->ticks_in_flight;
                              if (ec || self->scripts_forgotten(r))
                                  return; // the next connection renews first thing
                              if (r.type != detail::reply::kind::array || r.elements.size() != 3) {
                                  ++self->errors;
                                  return;
                              }
                              self->reaped += static_cast<std::uint64_t>(r.elements[1].integer);
                              if (r.elements[0].integer == 0 && !self->need_resync) {
                                  ++self->lease_lost;
                                  self->send_resync();
                              }
                              else if (r.elements[2].integer != 0 && self->ticks_in_flight == 0 && !self->halted
                                       && self->conn->connected()) {
                                  // The next batch of a dead gateway's peers, one at a time:
                                  // Redis runs a client's pipelined commands back to back.
                                  self->send_tick();
                              }
                          });
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

        template <class Done>
        void leave(Done done)
        {
            tick_timer.cancel();
            if (!conn->connected() || halted) {
                halt();
                done(net::error::not_connected);
                return;
            }
            if (need_resync)
                send_resync();
            else
                send_next(queue.size()); // every real reason ahead of the leave's "shutdown"
            conn->command(eval(leave_script, {token, now_ms()}),
                          [self = this->shared_from_this(), done = std::move(done)](error_code ec, detail::reply r) mutable {
                              self->halt();
                              if (!ec && r.type == detail::reply::kind::error)
                                  ec = net::error::operation_not_supported;
                              done(ec);
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

        static std::string with_prelude(const char* body) { return std::string(detail::scripts::prelude) + body; }

        // Runs script `which`: by SHA1 when this connection loaded it, else
        // whole. Its ARGV: the prefix, this gateway's name, then `rest`
        // (each script's list is in detail/scripts.hpp).
        std::vector<std::string> eval(script which, std::initializer_list<std::string> rest) const
        {
            const std::string& sha = conn->script_sha(which);
            std::vector<std::string> args;
            if (sha.empty())
                args = {"EVAL", lua[which], "0", opts.redis.prefix, opts.name};
            else
                args = {"EVALSHA", sha, "0", opts.redis.prefix, opts.name};
            args.insert(args.end(), rest);
            return args;
        }

        // Redis lost its script cache since this connection loaded it
        // (SCRIPT FLUSH; a failover): connecting again loads the scripts,
        // and every command not acknowledged is sent again.
        bool scripts_forgotten(const detail::reply& r)
        {
            if (r.type != detail::reply::kind::error || r.str.rfind("NOSCRIPT", 0) != 0)
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
        net::basic_waitable_timer<std::chrono::steady_clock, net::wait_traits<std::chrono::steady_clock>,
                                  executor_type>
            tick_timer;
        std::string token;
        const std::string lua[5] = {with_prelude(detail::scripts::online), with_prelude(detail::scripts::offline),
                                    with_prelude(detail::scripts::tick), with_prelude(detail::scripts::resync),
                                    with_prelude(detail::scripts::leave)};
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

    std::shared_ptr<impl> impl_;
};

} // namespace heartbeat::redis

#endif
