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
//
// This header is the interface; redis/impl/gateway.hpp holds the
// machinery (the transition queue, the lease, reaping, resync).

#include <heartbeat/core/events.hpp>
#include <heartbeat/detail/config.hpp>
#include <heartbeat/detail/erased_handler.hpp>
#include <heartbeat/redis/types.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>

namespace heartbeat::redis {

/// A gateway's settings.
struct gateway_options {
    /// This gateway's name, unique in the cluster, stable across restarts
    /// (a restarted gateway takes its old name's records over). Must not
    /// contain a tab.
    std::string name;
    redis_options redis;
    /// The lease: a gateway that does not renew it for this long is dead to
    /// the others. Renewal (and reaping of others) runs every lease_refresh;
    /// a dead gateway's peers go offline within about lease_ttl +
    /// lease_refresh.
    std::chrono::milliseconds lease_ttl{3000};
    std::chrono::milliseconds lease_refresh{1000};
    /// Transitions kept while Redis is unreachable; past this the queue is
    /// dropped and the gateway resynchronises on reconnection.
    std::size_t max_queued = 100'000;
    /// Transitions sent to Redis and not yet answered, at most (at least 1).
    /// Renewals of the lease share the connection, so one sent now waits
    /// behind no more than these: a burst of 100,000 sent at once would hold
    /// a renewal back past a short lease (about 1.2 s at 85,000 a second)
    /// and the gateway would be reaped alive. The cluster test "a burst does
    /// not delay the lease renewal" fails with this window lifted.
    std::size_t max_in_flight = 1000;
    /// Load the scripts once per connection (SCRIPT LOAD) and run them by
    /// SHA1 (EVALSHA), about 100 bytes a transition; false sends each script
    /// whole (EVAL, about 2.5 KB), for a Redis whose ACL denies SCRIPT. A
    /// refused SCRIPT LOAD falls back to EVAL by itself.
    bool cache_scripts = true;
    /// Reaping a dead gateway releases at most this many of its peers per
    /// script, the batches back to back: Redis serves other clients between
    /// them instead of stalling (or answering BUSY) for as long as one
    /// script over a huge gateway would take (about 7 us a peer).
    std::size_t reap_batch = 10'000;
};

/// A gateway's counters.
struct gateway_statistics {
    bool connected;
    std::size_t queued;           ///< transitions not yet acknowledged by Redis
    std::uint64_t replayed;       ///< transitions sent again after a reconnection
    std::uint64_t overflowed;     ///< transitions dropped from a full queue
    std::uint64_t resyncs;        ///< full rewrites of this gateway's share
    std::uint64_t reaped;         ///< dead gateways this one finished reaping
    std::uint64_t lease_lost;     ///< times the lease was found gone
    std::uint64_t errors;         ///< error replies from Redis (each schedules a resync)
    std::uint64_t script_reloads; ///< connections made again because Redis forgot the scripts
};

/// One gateway of cluster presence. `gateway` is this on
/// `net::any_io_executor`; another `Executor` (say,
/// `net::use_awaitable_t<>::executor_with_default<net::any_io_executor>`)
/// gives the operations that executor's default completion token.
///
/// @par Thread safety
/// Every public function may be called from any thread. The gateway's work,
/// and every Redis call, runs on its strand (`get_executor()`), so an
/// io_context with any number of threads is fine. No thread of its own.
template <class Executor = net::any_io_executor>
class basic_gateway {
public:
    using options = gateway_options;
    using statistics = gateway_statistics;
    using executor_type = net::strand<Executor>;
    /// What an operation completes with when given no token.
    using default_token = net::default_completion_token_t<Executor>;

    /// @throws std::invalid_argument if the name is empty or has a tab.
    basic_gateway(const Executor& ex, options opts);

    template <class ExecutionContext,
              class = std::enable_if_t<std::is_convertible_v<ExecutionContext&, net::execution_context&>>>
    basic_gateway(ExecutionContext& ctx, options opts) : basic_gateway(Executor(ctx.get_executor()), std::move(opts))
    {
    }

    basic_gateway(const basic_gateway&) = delete;
    basic_gateway& operator=(const basic_gateway&) = delete;

    /// Stops abruptly: no leave, so the lease runs out and survivors reap
    /// this gateway's peers (gateway_lost). A pending async_stop completes
    /// with operation_aborted. Use async_stop to leave cleanly.
    ~basic_gateway();

    /// Feeds `w`'s transitions to this gateway, as one of the watcher's
    /// observers (`watcher::subscribe`): the watcher's own on_event,
    /// on_online and on_offline stay free for the application, and several
    /// gateways (or other observers) may watch the same watcher.
    ///
    /// @par Thread safety
    /// As `watcher::subscribe`: any time, from any thread; the gateway
    /// sees the transitions decided after the subscription reaches the
    /// watcher's strand (attach before accepting connections to see all).
    /// The gateway must outlive `w`'s events or stop being fed by `w`
    /// first; the observer holds the gateway's state alive, so a late event
    /// after the gateway is destroyed is dropped, not a crash.
    template <class Watcher>
    void attach(Watcher& w);

    /// Reports a transition by hand (a program with its own server, or a
    /// watcher's handler that filters). Timestamped now; sent in order.
    /// @par Thread safety
    /// Any thread.
    void peer_online(std::string id);
    void peer_offline(std::string id, offline_reason why);

    /// Connects and keeps connecting; the gateway's peers appear in Redis
    /// once it is reachable. A second call does nothing.
    /// @par Thread safety
    /// Any thread.
    void start();

    /// Leaves the cluster cleanly: flushes queued transitions, releases the
    /// remaining peers (offline, reason shutdown) and the lease, then stops.
    ///
    /// Completion signature: `void(error_code)`: success once Redis ran the
    /// leave; `not_connected` if Redis could not be told (survivors then
    /// reap this gateway when its lease runs out); `operation_not_supported`
    /// if Redis refused the script; `operation_aborted` if the gateway was
    /// destroyed first. The handler runs through its associated executor,
    /// never inside this call.
    ///
    /// @par Cancellation
    /// None: a leave, once asked for, is carried out (it is bounded by
    /// `redis.command_timeout`). Destroying the gateway aborts it.
    ///
    /// @par Thread safety
    /// Any thread; call it once.
    template <class CompletionToken = default_token>
    auto async_stop(CompletionToken&& token = default_token{});

    /// The counters, each read atomically (not all at one instant).
    /// @par Thread safety
    /// Any thread.
    statistics stats() const;

    executor_type get_executor() const noexcept;

private:
    struct impl;
    struct stop_initiation;

    std::shared_ptr<impl> impl_;
};

template <class Executor>
struct basic_gateway<Executor>::stop_initiation {
    std::shared_ptr<impl> i;
    using executor_type = typename basic_gateway::executor_type;
    executor_type get_executor() const noexcept { return i->ex; }

    template <class Handler>
    void operator()(Handler&& h) const
    {
        heartbeat::detail::erased_handler<error_code> done(std::forward<Handler>(h), i->ex);
        i->post([i = i, done = std::move(done)]() mutable { i->leave(std::move(done)); });
    }
};

// ---- the members: each hands its work to the strand ---------------------------

template <class Executor>
basic_gateway<Executor>::basic_gateway(const Executor& ex, options opts)
    : impl_(std::make_shared<impl>(executor_type(ex), std::move(opts)))
{
}

template <class Executor>
basic_gateway<Executor>::~basic_gateway()
{
    impl_->post([i = impl_] { i->halt(); });
}

template <class Executor>
template <class Watcher>
void basic_gateway<Executor>::attach(Watcher& w)
{
    w.subscribe([i = impl_](const typename Watcher::event_type& e) {
        if (e.kind == transition::online)
            i->local_online(std::string(e.key));
        else
            i->local_offline(std::string(e.key), e.reason);
    });
}

template <class Executor>
void basic_gateway<Executor>::peer_online(std::string id)
{
    impl_->local_online(std::move(id));
}

template <class Executor>
void basic_gateway<Executor>::peer_offline(std::string id, offline_reason why)
{
    impl_->local_offline(std::move(id), why);
}

template <class Executor>
void basic_gateway<Executor>::start()
{
    impl_->post([i = impl_] { i->start(); });
}

template <class Executor>
template <class CompletionToken>
auto basic_gateway<Executor>::async_stop(CompletionToken&& token)
{
    return net::async_initiate<CompletionToken, void(error_code)>(stop_initiation{impl_}, token);
}

template <class Executor>
gateway_statistics basic_gateway<Executor>::stats() const
{
    const impl& i = *impl_;
    return {i.up.load(),         i.queued.load(),     i.replayed.load(), i.overflowed.load(),    i.resyncs.load(),
            i.reaped.load(),     i.lease_lost.load(), i.errors.load(),   i.script_reloads.load()};
}

template <class Executor>
auto basic_gateway<Executor>::get_executor() const noexcept -> executor_type
{
    return impl_->ex;
}

/// The gateway on the general-purpose executor.
using gateway = basic_gateway<>;

} // namespace heartbeat::redis

#include <heartbeat/redis/impl/gateway.hpp>

#endif
