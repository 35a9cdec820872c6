// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_MONITOR_HPP
#define HEARTBEAT_MONITOR_HPP

// Observer mode, server side: liveness for programs that keep their own
// protocol on the socket. They call touch() whenever something arrives;
// heartbeat keeps the time. The client side is observer_pulse.hpp.

#include <heartbeat/core/fixed_misses.hpp>
#include <heartbeat/detail/config.hpp>
#include <heartbeat/detail/live_registry.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace heartbeat {

/// Server side of observer mode: a thread-safe last-seen registry with its
/// sweeper. Call `touch(id)` from any thread whenever peer `id` sends
/// anything; `on_offline` fires after N silent intervals.
///
/// @par Thread safety
/// Every public function may be called from any thread. Callbacks run on
/// the monitor's strand, one at a time, in order.
template <class Key, class Policy = fixed_misses<std::chrono::steady_clock>>
class monitor {
public:
    using key_type = Key;
    using clock_type = typename Policy::clock_type;
    using duration = typename clock_type::duration;
    using time_point = typename clock_type::time_point;
    using executor_type = net::strand<net::any_io_executor>;
    using registry_type = registry<Key, clock_type, Policy>;
    using peer_info = typename registry_type::peer_info;
    using options = typename registry_type::options;

    monitor(const net::any_io_executor& ex, const options& opts = {})
        : impl_(std::make_shared<impl>(net::make_strand(ex), opts))
    {
    }

    template <class ExecutionContext,
              class = std::enable_if_t<std::is_convertible_v<ExecutionContext&, net::execution_context&>>>
    explicit monitor(ExecutionContext& ctx, const options& opts = {})
        : monitor(net::any_io_executor(ctx.get_executor()), opts)
    {
    }

    monitor(const monitor&) = delete;
    monitor& operator=(const monitor&) = delete;
    ~monitor() { stop(); }

    executor_type get_executor() const noexcept { return impl_->strand; }

    /// Callbacks; set them before the first touch.
    void on_online(std::function<void(const Key&)> f) { impl_->cb_online = std::move(f); }
    void on_offline(std::function<void(const Key&, offline_reason)> f) { impl_->cb_offline = std::move(f); }

    /// Records a sign of life of `id` now.
    /// @returns false if `id` is new and max_peers are tracked.
    bool touch(const Key& id)
    {
        const bool ok = impl_->table.locked([&](registry_type& r) { return r.touch(id).valid(); });
        impl_->after_change();
        return ok;
    }

    /// The interval `id` announced (clamped); see registry::set_interval.
    std::optional<duration> set_interval(const Key& id, duration d)
    {
        auto held = impl_->table.locked([&](registry_type& r) { return r.set_interval(id, d); });
        impl_->after_change();
        return held;
    }

    /// Forgets `id` (its connection closed): offline with `reason` if it was
    /// online.
    bool remove(const Key& id, offline_reason reason = offline_reason::disconnected)
    {
        const bool known = impl_->table.locked([&](registry_type& r) { return r.remove(id, reason); });
        impl_->after_change();
        return known;
    }

    /// Stops the sweeper; online peers go offline with reason shutdown. No
    /// callback runs after the stop has been carried out on the strand.
    void stop()
    {
        net::dispatch(impl_->strand, [self = impl_] {
            if (self->stopped)
                return;
            self->table.stop();
            self->table.locked([](registry_type& r) { r.clear(offline_reason::shutdown); });
            self->table.deliver();
            self->stopped = true;
            self->cb_online = nullptr;
            self->cb_offline = nullptr;
        });
    }

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

private:
    struct impl : std::enable_shared_from_this<impl> {
        impl(const executor_type& s, const options& o) : strand(s), table(strand, o)
        {
            table.set_handler([this](const peer_event<Key, time_point>& e) {
                const Key& key = e.key;
                const transition kind = e.kind;
                const offline_reason reason = e.reason;
                if (stopped)
                    return;
                if (kind == transition::online) {
                    if (cb_online)
                        cb_online(key);
                }
                else if (cb_offline) {
                    cb_offline(key, reason);
                }
            });
            table.start();
        }

        // A change may have brought a peer online (its deadline may come
        // before the armed one) or raised events: settle both on the strand.
        void after_change()
        {
            if (!table.has_pending())
                return;
            net::dispatch(strand, [self = this->shared_from_this()] {
                self->table.deliver();
                self->table.rearm();
            });
        }

        executor_type strand;
        detail::live_registry<Key, Policy, executor_type> table;
        std::function<void(const Key&)> cb_online;
        std::function<void(const Key&, offline_reason)> cb_offline;
        bool stopped = false;
    };

    std::shared_ptr<impl> impl_;
};

} // namespace heartbeat

#endif
