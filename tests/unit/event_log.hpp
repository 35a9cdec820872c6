// Test support: records registry events as plain values.
#ifndef HEARTBEAT_TESTS_EVENT_LOG_HPP
#define HEARTBEAT_TESTS_EVENT_LOG_HPP

#include <heartbeat/core/events.hpp>

#include <ostream>
#include <vector>

namespace heartbeat_test {

template <class Key, class TimePoint>
struct recorded_event {
    Key key;
    heartbeat::transition kind;
    heartbeat::offline_reason reason;
    TimePoint at;

    friend bool operator==(const recorded_event& a, const recorded_event& b)
    {
        return a.key == b.key && a.kind == b.kind && a.reason == b.reason
               && a.at == b.at;
    }
    friend std::ostream& operator<<(std::ostream& os, const recorded_event& e)
    {
        os << heartbeat::to_string(e.kind) << '(' << e.key;
        if (e.kind == heartbeat::transition::offline)
            os << ", " << heartbeat::to_string(e.reason);
        return os << " @" << e.at.time_since_epoch().count() << ')';
    }
};

/// Collects events in order; `sink()` plugs into a registry.
template <class Registry>
struct event_log {
    using key_type = typename Registry::key_type;
    using time_point = typename Registry::time_point;
    using value_type = recorded_event<key_type, time_point>;

    std::vector<value_type> events;

    auto sink()
    {
        return [this](const typename Registry::event_type& e) {
            events.push_back({e.key, e.kind, e.reason, e.at});
        };
    }

    static value_type online(key_type k, time_point at)
    {
        return {std::move(k), heartbeat::transition::online,
                heartbeat::offline_reason::none, at};
    }
    static value_type offline(key_type k, heartbeat::offline_reason r, time_point at)
    {
        return {std::move(k), heartbeat::transition::offline, r, at};
    }

    std::vector<value_type> take()
    {
        auto out = std::move(events);
        events.clear();
        return out;
    }
};

} // namespace heartbeat_test

#endif
