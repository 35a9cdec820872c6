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

#include <heartbeat/detail/erased_handler.hpp>
#include <heartbeat/redis/detail/connection.hpp>
#include <heartbeat/redis/types.hpp>

#include <atomic>
#include <functional>
#include <optional>
#include <vector>

namespace heartbeat::redis {

class directory {
public:
    using executor_type = net::strand<net::any_io_executor>;

    struct options {
        redis_options redis;
        /// A PING this often keeps the command_timeout watchdog honest while
        /// no query is running, so a dead Redis is noticed (and the event
        /// subscription remade) even when idle.
        std::chrono::milliseconds health_interval{1000};
    };

    directory(const net::any_io_executor& ex, options opts)
        : impl_(std::make_shared<impl>(executor_type(ex), std::move(opts)))
    {
    }

    template <class ExecutionContext,
              class = std::enable_if_t<std::is_convertible_v<ExecutionContext&, net::execution_context&>>>
    directory(ExecutionContext& ctx, options opts) : directory(net::any_io_executor(ctx.get_executor()), std::move(opts))
    {
    }

    directory(const directory&) = delete;
    directory& operator=(const directory&) = delete;

    ~directory() { stop(); }

    /// Every cluster event. Set before start(): the subscription (a second
    /// Redis connection) is made only if this is set.
    void on_event(std::function<void(const cluster_event&)> f) { impl_->cb_event = std::move(f); }

    /// Connection changes (true: connected and, if on_event was set,
    /// subscribed). Set before start().
    void on_connection(std::function<void(bool)> f) { impl_->cb_connection = std::move(f); }

    void start()
    {
        net::post(impl_->ex, [i = impl_] { i->start(); });
    }

    void stop()
    {
        net::post(impl_->ex, [i = impl_] { i->stop(); });
    }

    bool connected() const noexcept { return impl_->up.load(); }

    /// void(error_code, bool)
    template <class CompletionToken>
    auto async_is_online(std::string peer, CompletionToken&& token)
    {
        return query<bool>(
            {"HEXISTS", detail::key(impl_->opts.redis, "presence"), std::move(peer)},
            [](const detail::reply& r) -> std::optional<bool> {
                if (r.type != detail::reply::kind::integer)
                    return std::nullopt;
                return r.integer == 1;
            },
            std::forward<CompletionToken>(token));
    }

    /// void(error_code, std::optional<location>): empty when offline.
    template <class CompletionToken>
    auto async_locate(std::string peer, CompletionToken&& token)
    {
        return query<std::optional<location>>(
            {"HGET", detail::key(impl_->opts.redis, "presence"), std::move(peer)},
            [](const detail::reply& r) -> std::optional<std::optional<location>> {
                if (r.type == detail::reply::kind::nil)
                    return std::optional<location>{};
                if (r.type != detail::reply::kind::string)
                    return std::nullopt;
                auto loc = detail::parse_location(r.str);
                if (!loc)
                    return std::nullopt;
                return loc;
            },
            std::forward<CompletionToken>(token));
    }

    /// void(error_code, std::size_t): peers online anywhere.
    template <class CompletionToken>
    auto async_online_count(CompletionToken&& token)
    {
        return query<std::size_t>(
            {"HLEN", detail::key(impl_->opts.redis, "presence")},
            [](const detail::reply& r) -> std::optional<std::size_t> {
                if (r.type != detail::reply::kind::integer || r.integer < 0)
                    return std::nullopt;
                return static_cast<std::size_t>(r.integer);
            },
            std::forward<CompletionToken>(token));
    }

    /// void(error_code, std::vector<std::pair<std::string, location>>):
    /// every online peer, in no order. One HGETALL: for tools and tests,
    /// not for a hot path on a large cluster.
    template <class CompletionToken>
    auto async_snapshot(CompletionToken&& token)
    {
        using entries = std::vector<std::pair<std::string, location>>;
        return query<entries>(
            {"HGETALL", detail::key(impl_->opts.redis, "presence")},
            [](const detail::reply& r) -> std::optional<entries> {
                if (r.type != detail::reply::kind::array || r.elements.size() % 2 != 0)
                    return std::nullopt;
                entries out;
                out.reserve(r.elements.size() / 2);
                for (std::size_t i = 0; i < r.elements.size(); i += 2) {
                    auto loc = detail::parse_location(r.elements[i + 1].str);
                    if (!loc)
                        return std::nullopt;
                    out.emplace_back(r.elements[i].str, std::move(*loc));
                }
                return out;
            },
            std::forward<CompletionToken>(token));
    }

    executor_type get_executor() const noexcept { return impl_->ex; }

private:
    struct impl : std::enable_shared_from_this<impl> {
        using connection = detail::connection<executor_type>;

        impl(executor_type e, options o)
            : ex(std::move(e)), opts(std::move(o)), commands(std::make_shared<connection>(ex, opts.redis)),
              health(ex)
        {
        }

        void start()
        {
            if (started)
                return;
            started = true;
            commands->on_up = [this] { changed(); };
            commands->on_down = [this] {
                // The subscriber shares the server: remake it too, so no
                // silently dead subscription outlives a failure.
                if (events) {
                    events->stop();
                    events->start();
                }
                changed();
            };
            commands->start();
            if (cb_event) {
                events = std::make_shared<connection>(ex, opts.redis);
                events->on_up = [this] { changed(); };
                events->on_down = [this] { changed(); };
                events->subscribe(detail::key(opts.redis, "events"), [this](std::string_view m) {
                    if (auto e = detail::parse_event(m))
                        cb_event(*e);
                });
                events->start();
            }
            arm_health();
        }

        void stop()
        {
            if (!started || stopped)
                return;
            stopped = true;
            health.cancel();
            for (auto* c : {&commands, &events})
                if (*c) {
                    (*c)->on_up = nullptr;
                    (*c)->on_down = nullptr;
                    (*c)->stop();
                }
            changed();
        }

        void changed()
        {
            const bool now_up = !stopped && commands->connected() && (!events || events->connected());
            if (now_up == up.load())
                return;
            up = now_up;
            if (cb_connection)
                cb_connection(now_up);
        }

        void arm_health()
        {
            health.expires_after(opts.health_interval);
            health.async_wait([self = this->shared_from_this()](const error_code& ec) {
                if (ec || self->stopped)
                    return;
                if (self->commands->connected())
                    self->commands->command({"PING"}, [](error_code, detail::reply) {});
                self->arm_health();
            });
        }

        executor_type ex;
        options opts;
        std::shared_ptr<connection> commands;
        std::shared_ptr<connection> events;
        net::basic_waitable_timer<std::chrono::steady_clock, net::wait_traits<std::chrono::steady_clock>,
                                  executor_type>
            health;
        std::function<void(const cluster_event&)> cb_event;
        std::function<void(bool)> cb_connection;
        bool started = false;
        bool stopped = false;
        std::atomic<bool> up{false};
    };

    // Runs one command on the strand and completes with `parse(reply)`.
    template <class T, class Parse, class CompletionToken>
    auto query(std::vector<std::string> command, Parse parse, CompletionToken&& token)
    {
        return net::async_initiate<CompletionToken, void(error_code, T)>(
            [i = impl_, parse](auto handler, std::vector<std::string> args) {
                // Shared: the connection's callbacks are copyable std::functions.
                auto done = std::make_shared<heartbeat::detail::erased_handler<error_code, T>>(std::move(handler), i->ex);
                net::post(i->ex, [i, parse, args = std::move(args), done] {
                    i->commands->command(args, [parse, done](error_code ec, detail::reply r) {
                        if (ec)
                            return done->complete(ec, T{});
                        if (r.type == detail::reply::kind::error)
                            return done->complete(net::error::operation_not_supported, T{});
                        auto v = parse(r);
                        if (!v)
                            return done->complete(net::error::invalid_argument, T{});
                        done->complete({}, std::move(*v));
                    });
                });
            },
            token, std::move(command));
    }

    std::shared_ptr<impl> impl_;
};

} // namespace heartbeat::redis

#endif
