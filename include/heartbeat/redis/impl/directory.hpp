// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_REDIS_IMPL_DIRECTORY_HPP
#define HEARTBEAT_REDIS_IMPL_DIRECTORY_HPP

// The directory's machinery, on its strand: a command connection for
// queries, kept honest by a health PING, and a subscriber connection for
// events, remade whenever the command connection fails. Included by
// redis/directory.hpp at its end (and including it first, so that this
// file also compiles on its own).

#include <heartbeat/redis/directory.hpp>

#include <heartbeat/detail/erased_handler.hpp>
#include <heartbeat/redis/detail/connection.hpp>

#include <atomic>

namespace heartbeat::redis {

template <class Executor>
struct basic_directory<Executor>::impl : std::enable_shared_from_this<impl> {
    using connection = detail::connection<executor_type>;
    using timer_type =
        net::basic_waitable_timer<std::chrono::steady_clock, net::wait_traits<std::chrono::steady_clock>, executor_type>;

    impl(executor_type e, options o)
        : ex(std::move(e)), opts(std::move(o)), commands(std::make_shared<connection>(ex, opts.redis)), health(ex)
    {
    }

    // ---- on the strand ----

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
        if (cb_event)
            subscribe();
        arm_health();
    }

    // The second connection, for the event channel.
    void subscribe()
    {
        events = std::make_shared<connection>(ex, opts.redis);
        events->on_up = [this] { changed(); };
        events->on_down = [this] { changed(); };
        events->subscribe(detail::key(opts.redis, "events"), [this](std::string_view m) {
            if (!cb_event)
                return;
            if (auto e = detail::parse_event(m))
                cb_event(*e);
        });
        events->start();
    }

    void set_event_handler(std::function<void(const cluster_event&)> f)
    {
        cb_event = std::move(f);
        if (cb_event && started && !stopped && !events) {
            subscribe();
            changed(); // not up again until subscribed
        }
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
        cb_event = nullptr;
        cb_connection = nullptr;
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
    timer_type health;
    std::function<void(const cluster_event&)> cb_event;
    std::function<void(bool)> cb_connection;
    bool started = false;
    bool stopped = false;
    std::atomic<bool> up{false};
};

// One command on the strand; completes with parse(reply).
template <class Executor>
template <class T>
struct basic_directory<Executor>::query_initiation {
    std::shared_ptr<impl> i;
    using executor_type = typename basic_directory::executor_type;
    executor_type get_executor() const noexcept { return i->ex; }

    template <class Handler, class Parse>
    void operator()(Handler&& h, std::vector<std::string> args, Parse parse) const
    {
        // Shared: the connection's callbacks are copyable std::functions.
        auto done = std::make_shared<heartbeat::detail::erased_handler<error_code, T>>(std::forward<Handler>(h), i->ex);
        net::post(i->ex, [i = i, parse = std::move(parse), args = std::move(args), done]() mutable {
            i->commands->command(args, [parse = std::move(parse), done](error_code ec, detail::reply r) {
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
    }
};

namespace detail {

// Reply parsers of the queries: the value, or nothing for a reply of the
// wrong shape.
inline std::optional<bool> parse_exists(const reply& r)
{
    if (r.type != reply::kind::integer)
        return std::nullopt;
    return r.integer == 1;
}

inline std::optional<std::optional<location>> parse_locate(const reply& r)
{
    if (r.type == reply::kind::nil)
        return std::optional<location>{};
    if (r.type != reply::kind::string)
        return std::nullopt;
    auto loc = parse_location(r.str);
    if (!loc)
        return std::nullopt;
    return loc;
}

inline std::optional<std::size_t> parse_count(const reply& r)
{
    if (r.type != reply::kind::integer || r.integer < 0)
        return std::nullopt;
    return static_cast<std::size_t>(r.integer);
}

inline std::optional<std::vector<std::pair<std::string, location>>> parse_snapshot(const reply& r)
{
    if (r.type != reply::kind::array || r.elements.size() % 2 != 0)
        return std::nullopt;
    std::vector<std::pair<std::string, location>> out;
    out.reserve(r.elements.size() / 2);
    for (std::size_t k = 0; k < r.elements.size(); k += 2) {
        auto loc = parse_location(r.elements[k + 1].str);
        if (!loc)
            return std::nullopt;
        out.emplace_back(r.elements[k].str, std::move(*loc));
    }
    return out;
}

} // namespace detail

// ---- basic_directory's members -----------------------------------------------

template <class Executor>
basic_directory<Executor>::basic_directory(const Executor& ex, options opts)
    : impl_(std::make_shared<impl>(executor_type(ex), std::move(opts)))
{
}

template <class Executor>
basic_directory<Executor>::~basic_directory()
{
    stop();
}

template <class Executor>
void basic_directory<Executor>::on_event(std::function<void(const cluster_event&)> f)
{
    net::post(impl_->ex, [i = impl_, f = std::move(f)]() mutable { i->set_event_handler(std::move(f)); });
}

template <class Executor>
void basic_directory<Executor>::on_connection(std::function<void(bool)> f)
{
    net::post(impl_->ex, [i = impl_, f = std::move(f)]() mutable {
        if (!i->stopped)
            i->cb_connection = std::move(f);
    });
}

template <class Executor>
void basic_directory<Executor>::start()
{
    net::post(impl_->ex, [i = impl_] { i->start(); });
}

template <class Executor>
void basic_directory<Executor>::stop()
{
    net::post(impl_->ex, [i = impl_] { i->stop(); });
}

template <class Executor>
bool basic_directory<Executor>::connected() const noexcept
{
    return impl_->up.load();
}

template <class Executor>
template <class T, class Parse, class CompletionToken>
auto basic_directory<Executor>::query(std::vector<std::string> command, Parse parse, CompletionToken&& token)
{
    return net::async_initiate<CompletionToken, void(error_code, T)>(query_initiation<T>{impl_}, token,
                                                                      std::move(command), std::move(parse));
}

template <class Executor>
template <class CompletionToken>
auto basic_directory<Executor>::async_is_online(std::string peer, CompletionToken&& token)
{
    return query<bool>({"HEXISTS", detail::key(impl_->opts.redis, "presence"), std::move(peer)}, &detail::parse_exists,
                       std::forward<CompletionToken>(token));
}

template <class Executor>
template <class CompletionToken>
auto basic_directory<Executor>::async_locate(std::string peer, CompletionToken&& token)
{
    return query<std::optional<location>>({"HGET", detail::key(impl_->opts.redis, "presence"), std::move(peer)},
                                          &detail::parse_locate, std::forward<CompletionToken>(token));
}

template <class Executor>
template <class CompletionToken>
auto basic_directory<Executor>::async_online_count(CompletionToken&& token)
{
    return query<std::size_t>({"HLEN", detail::key(impl_->opts.redis, "presence")}, &detail::parse_count,
                              std::forward<CompletionToken>(token));
}

template <class Executor>
template <class CompletionToken>
auto basic_directory<Executor>::async_snapshot(CompletionToken&& token)
{
    return query<snapshot_type>({"HGETALL", detail::key(impl_->opts.redis, "presence")}, &detail::parse_snapshot,
                                std::forward<CompletionToken>(token));
}

template <class Executor>
auto basic_directory<Executor>::get_executor() const noexcept -> executor_type
{
    return impl_->ex;
}

} // namespace heartbeat::redis

#endif
