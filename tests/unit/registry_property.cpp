// The registry against a brute-force model: 100,000 peers, random touches,
// interval changes, removals and expiry times; the same events in the same
// order, and the same answers to every query.
#include <heartbeat/core/registry.hpp>

#include "event_log.hpp"

#include <heartbeat/testing/manual_clock.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <unordered_map>

namespace {
using namespace std::chrono_literals;
using heartbeat::offline_reason;
using heartbeat::peer_status;
using test_clock = heartbeat::testing::basic_manual_clock<struct property_tag>;
using registry = heartbeat::registry<std::uint64_t, test_clock>;
using log_type = heartbeat_test::event_log<registry>;
using event = log_type::value_type;
using time_point = test_clock::time_point;
using duration = test_clock::duration;

constexpr unsigned misses = 3;
constexpr duration min_interval = 10ms;
constexpr duration max_interval = 300ms;

// The obvious implementation: scan every peer on every expiry.
class model {
public:
    std::vector<event> events;

    void touch(std::uint64_t key, time_point now)
    {
        auto [it, fresh] = peers_.try_emplace(key);
        peer& p = it->second;
        if (fresh || !p.online) {
            p.online = true;
            p.last_seen = fresh ? now : std::max(p.last_seen, now);
            events.push_back(log_type::online(key, now));
        }
        else {
            p.last_seen = std::max(p.last_seen, now);
        }
        p.stamp = ++stamp_;
    }

    std::optional<duration> set_interval(std::uint64_t key, duration d)
    {
        auto it = peers_.find(key);
        if (it == peers_.end())
            return std::nullopt;
        it->second.interval = std::clamp(d, min_interval, max_interval);
        if (it->second.online)
            it->second.stamp = ++stamp_;
        return it->second.interval;
    }

    bool remove(std::uint64_t key, offline_reason reason, time_point now)
    {
        auto it = peers_.find(key);
        if (it == peers_.end())
            return false;
        if (it->second.online)
            events.push_back(log_type::offline(key, reason, now));
        peers_.erase(it);
        return true;
    }

    std::optional<time_point> expire(time_point now)
    {
        std::vector<std::pair<std::pair<time_point, std::uint64_t>, std::uint64_t>> due;
        for (auto& [key, p] : peers_)
            if (p.online && deadline(p) <= now)
                due.push_back({{deadline(p), p.stamp}, key});
        std::sort(due.begin(), due.end());
        for (auto& d : due) {
            peers_[d.second].online = false;
            events.push_back(log_type::offline(d.second, offline_reason::timeout, now));
        }
        std::optional<time_point> next;
        for (auto& [key, p] : peers_)
            if (p.online && (!next || deadline(p) < *next))
                next = deadline(p);
        return next;
    }

    peer_status status(std::uint64_t key) const
    {
        auto it = peers_.find(key);
        if (it == peers_.end())
            return peer_status::unknown;
        return it->second.online ? peer_status::online : peer_status::offline;
    }

    std::optional<time_point> last_seen(std::uint64_t key) const
    {
        auto it = peers_.find(key);
        if (it == peers_.end())
            return std::nullopt;
        return it->second.last_seen;
    }

    std::size_t size() const { return peers_.size(); }
    std::size_t online_count() const
    {
        return static_cast<std::size_t>(std::count_if(
            peers_.begin(), peers_.end(), [](const auto& kv) { return kv.second.online; }));
    }

private:
    struct peer {
        bool online = false;
        time_point last_seen{};
        duration interval = 100ms;
        std::uint64_t stamp = 0;
    };

    static time_point deadline(const peer& p)
    {
        return p.last_seen + p.interval * misses + duration(1);
    }

    std::unordered_map<std::uint64_t, peer> peers_;
    std::uint64_t stamp_ = 0;
};

} // namespace

TEST_CASE("registry matches a brute-force model over 100,000 peers", "[registry][property]")
{
    const auto seed = GENERATE(1u, 2u, 3u);
    CAPTURE(seed);
    std::mt19937_64 rng(seed);

    registry::options o;
    o.detection.interval = 100ms;
    o.detection.misses = misses;
    o.detection.min_interval = min_interval;
    o.detection.max_interval = max_interval;
    o.pause_threshold = duration::zero();  // the model has no pause guard
    log_type log;
    registry reg(o, log.sink());
    model ref;

    constexpr std::uint64_t peers = 100'000;
    constexpr int steps = 400;          // 1 ms of time each
    constexpr int ops_per_step = 1500;  // 600,000 operations in all
    std::uniform_int_distribution<std::uint64_t> any_peer(0, peers - 1);
    std::uniform_int_distribution<int> op_kind(0, 99);
    std::uniform_int_distribution<long> interval_ms(1, 400);
    time_point now(1s);

    auto compare_events = [&](const char* what) {
        INFO(what << " at " << now.time_since_epoch().count());
        REQUIRE(log.events.size() == ref.events.size());
        for (std::size_t i = 0; i < ref.events.size(); ++i) {
            INFO("event " << i);
            REQUIRE(log.events[i] == ref.events[i]);
        }
        log.events.clear();
        ref.events.clear();
    };

    std::size_t transitions = 0;
    for (int step = 0; step < steps; ++step) {
        for (int op = 0; op < ops_per_step; ++op) {
            const std::uint64_t key = any_peer(rng);
            const int kind = op_kind(rng);
            if (kind < 90) {
                reg.touch(key, now);
                ref.touch(key, now);
            }
            else if (kind < 95) {
                const duration d = interval_ms(rng) * 1ms;
                REQUIRE(reg.set_interval(key, d) == ref.set_interval(key, d));
            }
            else {
                const auto reason = kind < 98 ? offline_reason::disconnected : offline_reason::left;
                REQUIRE(reg.remove(key, reason, now) == ref.remove(key, reason, now));
            }
            transitions += log.events.size();
            if (!log.events.empty() || !ref.events.empty())
                compare_events("mutation");
        }
        now += 1ms;
        // Expiry at irregular times, as a late or early timer would run it.
        if (step % 7 == 0 || step % 11 == 0) {
            const auto next = reg.expire(now);
            REQUIRE(next == ref.expire(now));
            transitions += log.events.size();
            compare_events("expire");
        }
    }
    // Let everyone time out.
    now += 10s;
    REQUIRE(reg.expire(now) == ref.expire(now));
    compare_events("final expire");
    REQUIRE(reg.online_count() == 0);

    REQUIRE(reg.size() == ref.size());
    for (std::uint64_t key = 0; key < peers; ++key) {
        REQUIRE(reg.status(key) == ref.status(key));
        REQUIRE(reg.last_seen(key) == ref.last_seen(key));
    }
    // The run must actually have exercised the transitions.
    CHECK(transitions > 100'000);
}
