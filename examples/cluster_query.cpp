// Prints cluster presence from Redis (heartbeat::redis::directory): how many
// peers are online, where each one is, and, with --watch, every cluster
// event for a while.
//
//   cluster_query [--redis-port 6379] [--watch SECONDS] [PEER...]
//
// With PEER names it locates just those; without, it lists everyone.
#include <heartbeat/redis.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace net = heartbeat::net;
namespace hr = heartbeat::redis;
using heartbeat::error_code;

namespace {

long long ms_ago(hr::cluster_time t) { return (hr::cluster_now() - t).count(); }

} // namespace

int main(int argc, char** argv)
{
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    hr::directory::options o;
    long watch_s = 0;
    std::vector<std::string> peers;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--redis-port") == 0 && i + 1 < argc)
            o.redis.port = static_cast<std::uint16_t>(std::atoi(argv[++i]));
        else if (std::strcmp(argv[i], "--watch") == 0 && i + 1 < argc)
            watch_s = std::atol(argv[++i]);
        else
            peers.emplace_back(argv[i]);
    }

    net::io_context io(1);
    hr::directory dir(io, o);
    if (watch_s > 0)
        dir.on_event([](const hr::cluster_event& e) {
            std::printf("event %-7s %-12s on %s", std::string(to_string(e.type)).c_str(), e.peer.c_str(),
                        e.gateway.c_str());
            if (e.type == hr::cluster_event::kind::moved)
                std::printf(" (from %s)", e.from.c_str());
            if (e.type == hr::cluster_event::kind::offline)
                std::printf(" (%s)", std::string(to_string(e.reason)).c_str());
            std::printf("\n");
        });

    net::steady_timer deadline(io);
    net::steady_timer give_up(io);
    int status = 0;
    auto finish = [&](int code) {
        status = code;
        give_up.cancel();
        if (watch_s > 0 && code == 0) {
            deadline.expires_after(std::chrono::seconds(watch_s));
            deadline.async_wait([&](const error_code&) { dir.stop(); });
        } else {
            dir.stop();
        }
    };

    // Queries wait for the connection: the first one is issued once it is up.
    bool asked = false;
    std::size_t answered = 0;
    dir.on_connection([&](bool up) {
        if (!up || asked)
            return;
        asked = true;
        dir.async_online_count([&](error_code ec, std::size_t n) {
            if (ec) {
                std::fprintf(stderr, "online_count: %s\n", ec.message().c_str());
                return finish(1);
            }
            std::printf("online: %zu\n", n);
            if (!peers.empty()) {
                for (const auto& p : peers)
                    dir.async_locate(p, [&, &p = p](error_code ec, std::optional<hr::location> where) {
                        if (ec)
                            std::printf("%-12s ? (%s)\n", p.c_str(), ec.message().c_str());
                        else if (!where)
                            std::printf("%-12s offline\n", p.c_str());
                        else
                            std::printf("%-12s on %s for %lld ms\n", p.c_str(), where->gateway.c_str(),
                                        ms_ago(where->since));
                        if (++answered == peers.size())
                            finish(0);
                    });
                return;
            }
            dir.async_snapshot([&](error_code ec, std::vector<std::pair<std::string, hr::location>> all) {
                if (ec) {
                    std::fprintf(stderr, "snapshot: %s\n", ec.message().c_str());
                    return finish(1);
                }
                std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
                for (const auto& [peer, where] : all)
                    std::printf("%-12s on %s for %lld ms\n", peer.c_str(), where.gateway.c_str(), ms_ago(where.since));
                finish(0);
            });
        });
    });
    dir.start();

    // Give up if Redis never answers.
    give_up.expires_after(std::chrono::seconds(5));
    give_up.async_wait([&](const error_code& ec) {
        if (!ec && !asked) {
            std::fprintf(stderr, "no Redis at 127.0.0.1:%u\n", static_cast<unsigned>(o.redis.port));
            finish(1);
        }
    });
    io.run_for(std::chrono::seconds(watch_s + 10));
    return status;
}
