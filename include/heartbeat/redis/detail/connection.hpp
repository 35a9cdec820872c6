// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_REDIS_DETAIL_CONNECTION_HPP
#define HEARTBEAT_REDIS_DETAIL_CONNECTION_HPP

// One Redis connection that keeps itself up: connects, authenticates,
// (re)subscribes, drops itself when a reply is later than command_timeout,
// and reconnects until stopped, paced by detail::backoff (full jitter).
// Commands issued while it is down fail at once with not_connected:
// queueing is the caller's business, because only the caller knows what is
// worth replaying.
//
// Not thread-safe: everything, callbacks included, runs on the strand given.

#include <heartbeat/detail/backoff.hpp>
#include <heartbeat/redis/detail/hiredis_asio.hpp>
#include <heartbeat/redis/detail/reply.hpp>
#include <heartbeat/redis/types.hpp>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace heartbeat::redis::detail {

template <class Executor>
class connection : public std::enable_shared_from_this<connection<Executor>> {
public:
    using executor_type = Executor;
    using command_handler = std::function<void(error_code, reply)>;

    connection(const executor_type& ex, redis_options opts)
        : ex_(ex), opts_(std::move(opts)), retry_(ex), watchdog_(ex),
          pacing_({opts_.reconnect_min, opts_.reconnect_max, 2.0}, 0)
    {
    }

    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    ~connection()
    {
        if (ac_) {
            ac_->data = nullptr; // no callbacks into a dying object
            redisAsyncFree(ac_);
        }
    }

    /// Called on the strand once connected (and authenticated, subscribed),
    /// and once per loss.
    std::function<void()> on_up;
    std::function<void()> on_down;

    bool connected() const noexcept { return up_; }

    void start()
    {
        stopped_ = false;
        connect();
        arm_watchdog();
    }

    /// Drops the connection for good; pending commands complete with
    /// operation_aborted.
    void stop()
    {
        stopped_ = true;
        retry_.cancel();
        watchdog_.cancel();
        drop(net::error::operation_aborted);
    }

    /// Sends `args`; `done` gets the reply, or an error if the connection is
    /// down or goes down first.
    void command(const std::vector<std::string>& args, command_handler done)
    {
        if (!up_ || !ac_) {
            net::post(ex_, [done = std::move(done)] { done(net::error::not_connected, {}); });
            return;
        }
        send(args, std::move(done));
    }

    /// Scripts to load (SCRIPT LOAD) on every connection, before it counts
    /// as up. Set before start().
    void preload_scripts(std::vector<std::string> bodies)
    {
        scripts_ = std::move(bodies);
        shas_.assign(scripts_.size(), std::string());
    }

    /// The SHA1 Redis gave script `i` on this connection; empty if it is not
    /// loaded (not asked for, or Redis refused), and then the script must be
    /// sent whole.
    const std::string& script_sha(std::size_t i) const
    {
        static const std::string none;
        return i < shas_.size() ? shas_[i] : none;
    }

    /// Drops the connection and makes it again, as if it had been lost:
    /// for a Redis that forgot the scripts (SCRIPT FLUSH), which the new
    /// connection loads again.
    void reconnect() { drop(net::error::connection_reset); }

    /// Subscribes to `channel` now (if up) and after every reconnect; `on`
    /// gets each message's payload.
    void subscribe(std::string channel, std::function<void(std::string_view)> on)
    {
        subs_.push_back(std::make_unique<subscription>(subscription{this, std::move(channel), std::move(on)}));
        if (up_)
            send_subscribe(*subs_.back()); // already up: its confirmation changes nothing
    }

private:
    struct pending {
        connection* self;
        command_handler done;
    };

    struct subscription {
        connection* owner;
        std::string channel;
        std::function<void(std::string_view)> on;
    };

    void connect()
    {
        if (stopped_)
            return;
        ac_ = redisAsyncConnect(opts_.host.c_str(), opts_.port);
        if (!ac_ || ac_->err) {
            if (ac_)
                redisAsyncFree(ac_);
            ac_ = nullptr;
            schedule_reconnect();
            return;
        }
        ac_->data = this;
        hiredis_events<Executor>::attach(ac_, ex_);
        redisAsyncSetConnectCallback(ac_, &on_connect);
        redisAsyncSetDisconnectCallback(ac_, &on_disconnect);
        connecting_since_ = std::chrono::steady_clock::now();
    }

    static void on_connect(const redisAsyncContext* ac, int status)
    {
        auto* self = static_cast<connection*>(ac->data);
        if (!self)
            return;
        if (status != REDIS_OK) {
            self->ac_ = nullptr; // hiredis frees it after this returns
            self->schedule_reconnect();
            return;
        }
        self->connected_tcp();
    }

    static void on_disconnect(const redisAsyncContext* ac, int)
    {
        auto* self = static_cast<connection*>(ac->data);
        if (!self)
            return;
        self->ac_ = nullptr;
        self->lost();
    }

    // TCP is up; the connection counts as up once Redis answers a PING
    // (after AUTH): a peer that accepts and hangs up, or a Redis that is
    // stopped while its kernel still accepts, never looks connected.
    void connected_tcp()
    {
        if (!opts_.password.empty())
            send({"AUTH", opts_.password}, [this, self = this->shared_from_this()](error_code ec, reply r) {
                if (!ec && r.type == reply::kind::error)
                    drop(net::error::access_denied);
            });
        // Pipelined before the PING, so their replies are in when it answers.
        for (std::size_t i = 0; i < scripts_.size(); ++i) {
            shas_[i].clear();
            send({"SCRIPT", "LOAD", scripts_[i]}, [this, self = this->shared_from_this(), i](error_code ec, reply r) {
                if (!ec && r.type == reply::kind::string)
                    shas_[i] = std::move(r.str);
            });
        }
        send({"PING"}, [this, self = this->shared_from_this()](error_code ec, reply r) {
            if (ec || !ac_)
                return; // gone already; lost() has run
            if (r.type == reply::kind::error) {
                drop(net::error::connection_refused);
                return;
            }
            pacing_.reset();
            // With subscriptions, up means subscribed: each confirmation
            // counts down (on_message), the last one brings it up.
            unconfirmed_ = subs_.size();
            for (auto& s : subs_)
                send_subscribe(*s);
            if (unconfirmed_ == 0)
                become_up();
        });
    }

    void become_up()
    {
        up_ = true;
        if (on_up)
            on_up();
    }

    void lost()
    {
        const bool was_up = up_;
        up_ = false;
        outstanding_ = 0;
        if (was_up && on_down)
            on_down();
        schedule_reconnect();
    }

    // Frees the context: hiredis completes every pending command with a null
    // reply (`why` is what they see). Owners see the connection down first.
    void drop(error_code why)
    {
        if (!ac_)
            return;
        auto* ac = ac_;
        ac_ = nullptr;
        ac->data = nullptr; // on_connect/on_disconnect: nothing left to do
        drop_reason_ = why;
        const bool was_up = up_;
        up_ = false;
        redisAsyncFree(ac);
        drop_reason_ = {};
        up_ = was_up;
        lost();
    }

    void send(const std::vector<std::string>& args, command_handler done)
    {
        std::vector<const char*> argv;
        std::vector<std::size_t> lens;
        argv.reserve(args.size());
        lens.reserve(args.size());
        for (const auto& a : args) {
            argv.push_back(a.data());
            lens.push_back(a.size());
        }
        auto* p = new pending{this, std::move(done)};
        if (redisAsyncCommandArgv(ac_, &on_reply, p, static_cast<int>(argv.size()), argv.data(), lens.data())
            != REDIS_OK) {
            auto d = std::move(p->done);
            delete p;
            net::post(ex_, [d = std::move(d)] { d(net::error::not_connected, {}); });
            return;
        }
        if (outstanding_++ == 0)
            last_progress_ = std::chrono::steady_clock::now();
    }

    static void on_reply(redisAsyncContext*, void* r, void* priv)
    {
        std::unique_ptr<pending> p(static_cast<pending*>(priv));
        auto* self = p->self;
        if (!r) {
            const error_code ec = self->drop_reason_ ? self->drop_reason_ : error_code(net::error::connection_aborted);
            p->done(ec, {});
            return;
        }
        if (self->outstanding_ > 0)
            --self->outstanding_;
        self->last_progress_ = std::chrono::steady_clock::now();
        p->done({}, reply::from(static_cast<const redisReply*>(r)));
    }

    void send_subscribe(subscription& s)
    {
        const char* argv[] = {"SUBSCRIBE", s.channel.data()};
        const std::size_t lens[] = {9, s.channel.size()};
        redisAsyncCommandArgv(ac_, &on_message, &s, 2, argv, lens);
    }

    // Called for the subscribe confirmation and for every message; a null
    // reply when the context goes away (the subscription outlives it).
    static void on_message(redisAsyncContext*, void* r, void* priv)
    {
        const auto* rep = static_cast<const redisReply*>(r);
        if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 3)
            return;
        const auto* kind = rep->element[0];
        const auto* payload = rep->element[2];
        if (kind->type != REDIS_REPLY_STRING)
            return;
        auto& sub = *static_cast<subscription*>(priv);
        const std::string_view what(kind->str, kind->len);
        if (what == "subscribe") {
            auto& c = *sub.owner;
            if (!c.up_ && c.unconfirmed_ > 0 && --c.unconfirmed_ == 0)
                c.become_up();
        } else if (what == "message" && payload->type == REDIS_REPLY_STRING) {
            sub.on(std::string_view(payload->str, payload->len));
        }
    }

    void schedule_reconnect()
    {
        if (stopped_)
            return;
        retry_.expires_after(pacing_.next());
        retry_.async_wait([self = this->shared_from_this()](const error_code& ec) {
            if (!ec)
                self->connect();
        });
    }

    // A connect or a reply that takes longer than command_timeout means
    // Redis is gone or hung: drop and reconnect.
    void arm_watchdog()
    {
        if (stopped_)
            return;
        const auto period = opts_.command_timeout / std::max(opts_.watchdog_checks, 1u);
        watchdog_.expires_after(std::max(period, std::chrono::milliseconds(10)));
        watchdog_.async_wait([self = this->shared_from_this()](const error_code& ec) {
            if (ec)
                return;
            const auto now = std::chrono::steady_clock::now();
            const bool stuck_connect = self->ac_ && !self->up_
                                       && now - self->connecting_since_ > self->opts_.command_timeout;
            const bool stuck_reply = self->ac_ && self->outstanding_ > 0
                                     && now - self->last_progress_ > self->opts_.command_timeout;
            if (stuck_connect || stuck_reply)
                self->drop(net::error::timed_out);
            self->arm_watchdog();
        });
    }

    executor_type ex_;
    redis_options opts_;
    net::basic_waitable_timer<std::chrono::steady_clock, net::wait_traits<std::chrono::steady_clock>, Executor> retry_;
    net::basic_waitable_timer<std::chrono::steady_clock, net::wait_traits<std::chrono::steady_clock>, Executor>
        watchdog_;
    heartbeat::detail::backoff<std::chrono::milliseconds> pacing_;
    redisAsyncContext* ac_ = nullptr;
    bool up_ = false;
    bool stopped_ = true;
    std::size_t outstanding_ = 0;
    std::chrono::steady_clock::time_point last_progress_{};
    std::chrono::steady_clock::time_point connecting_since_{};
    error_code drop_reason_;
    std::vector<std::unique_ptr<subscription>> subs_;
    std::size_t unconfirmed_ = 0; // subscriptions of this connection not yet confirmed
    std::vector<std::string> scripts_;
    std::vector<std::string> shas_; // of scripts_, on this connection
};

} // namespace heartbeat::redis::detail

#endif
