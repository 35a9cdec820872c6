// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_REDIS_DIRECTORY_HPP
#define HEARTBEAT_REDIS_DIRECTORY_HPP

// heartbeat::redis::directory: reads cluster presence. Ask whether a peer
// is online anywhere, where, and how many are; hear every cluster-wide
// online / offline / moved event. Any process can hold one: a gateway, an
// application server that wants to route a message, a monitoring tool.
//
// Queries take completion tokens (callbacks, use_future, use_awaitable)
// and complete with not_connected while Redis is unreachable. Events are
// Redis pub/sub: at most once, and none while the subscription is down;
// on_connection(true) after a loss is the cue to query again.
//
// This header is the interface; redis/impl/directory.hpp holds the
// connections, the subscription and the parsing of replies.

#include <heartbeat/detail/config.hpp>
#include <heartbeat/redis/types.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace heartbeat::redis {

/// A directory's settings.
struct directory_options {
    redis_options redis;
    /// A PING this often keeps the command_timeout watchdog honest while no
    /// query is running, so a dead Redis is noticed (and the event
    /// subscription remade) even when idle.
    std::chrono::milliseconds health_interval{1000};
};

/// The cluster's presence, read from Redis. `directory` is this on
/// `net::any_io_executor`; another `Executor` (say,
/// `net::use_awaitable_t<>::executor_with_default<net::any_io_executor>`)
/// gives the queries that executor's default completion token.
///
/// Every query completes with `error_code` first: `not_connected` while
/// Redis is unreachable, `timed_out` or `connection_aborted` if the
/// connection failed before the reply, `operation_aborted` after stop(),
/// `operation_not_supported` for an error reply, `invalid_argument` for a
/// reply of the wrong shape. Handlers run through their associated
/// executor, never inside the call that started them.
///
/// @par Cancellation
/// None per query (a Redis command cannot be taken back). A query is
/// bounded by `redis.command_timeout`; stop() completes the pending ones
/// with operation_aborted.
///
/// @par Thread safety
/// Every public function may be called from any thread. The directory's
/// work, every Redis call and every callback run on its strand
/// (`get_executor()`), one at a time.
template <class Executor = net::any_io_executor>
class basic_directory {
public:
    using options = directory_options;
    using executor_type = net::strand<Executor>;
    /// What a query completes with when given no token.
    using default_token = net::default_completion_token_t<Executor>;
    using snapshot_type = std::vector<std::pair<std::string, location>>;

    basic_directory(const Executor& ex, options opts);

    template <class ExecutionContext,
              class = std::enable_if_t<std::is_convertible_v<ExecutionContext&, net::execution_context&>>>
    basic_directory(ExecutionContext& ctx, options opts)
        : basic_directory(Executor(ctx.get_executor()), std::move(opts))
    {
    }

    basic_directory(const basic_directory&) = delete;
    basic_directory& operator=(const basic_directory&) = delete;

    /// Stops (see stop()).
    ~basic_directory();

    /// Every cluster event, on the strand. The event subscription (a second
    /// Redis connection) exists only while a handler is set: setting one
    /// after start() subscribes then, and only events published from then
    /// on arrive. An empty function unsets it (the subscription stays).
    /// @par Thread safety
    /// Any thread, any time; takes effect on the strand, in call order.
    void on_event(std::function<void(const cluster_event&)> f);

    /// Connection changes, on the strand: true once connected (and, with an
    /// event handler, subscribed), false on a loss.
    /// @par Thread safety
    /// Any thread, any time; takes effect on the strand, in call order.
    void on_connection(std::function<void(bool)> f);

    /// Connects and keeps connecting. A second call does nothing.
    void start();

    /// Disconnects for good: pending queries complete with
    /// operation_aborted, later ones with not_connected; no callback runs
    /// after it has been carried out on the strand.
    void stop();

    /// Connected now (and subscribed, with an event handler). Any thread.
    bool connected() const noexcept;

    /// Is `peer` online on any gateway?
    /// Completion signature: `void(error_code, bool)`.
    template <class CompletionToken = default_token>
    auto async_is_online(std::string peer, CompletionToken&& token = default_token{});

    /// Where `peer` is online.
    /// Completion signature: `void(error_code, std::optional<location>)`,
    /// empty when offline everywhere.
    template <class CompletionToken = default_token>
    auto async_locate(std::string peer, CompletionToken&& token = default_token{});

    /// How many peers are online anywhere.
    /// Completion signature: `void(error_code, std::size_t)`.
    template <class CompletionToken = default_token>
    auto async_online_count(CompletionToken&& token = default_token{});

    /// Every online peer and where, in no order. One HGETALL: for tools and
    /// tests, not for a hot path on a large cluster.
    /// Completion signature: `void(error_code, snapshot_type)`.
    template <class CompletionToken = default_token>
    auto async_snapshot(CompletionToken&& token = default_token{});

    executor_type get_executor() const noexcept;

private:
    struct impl;
    template <class T>
    struct query_initiation;

    template <class T, class Parse, class CompletionToken>
    auto query(std::vector<std::string> command, Parse parse, CompletionToken&& token);

    std::shared_ptr<impl> impl_;
};

/// The directory on the general-purpose executor.
using directory = basic_directory<>;

} // namespace heartbeat::redis

#include <heartbeat/redis/impl/directory.hpp>

#endif
