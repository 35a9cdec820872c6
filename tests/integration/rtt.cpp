// The server's application RTT (protocol version 2) against the client's
// own echo RTT, over real loopback TCP. Its own executable, run serially:
// the verdict compares two timings, which a test running beside it would
// disturb.
#include "support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace heartbeat_test;

TEST_CASE("loopback: the server's RTT agrees with the client's own echo RTT", "[loopback][rtt]")
{
    // Misses enough for a second of silence: a loaded machine may stall a
    // 10 ms beat, and the verdict here is about RTT, not liveness.
    server srv(fast_watcher_options(10ms, 100));
    // The client runs on a thread of its own, as a peer in another process
    // would: on the server's thread its own work after each beat would sit
    // inside the server's measurement.
    net::io_context client_io;
    auto client_work = net::make_work_guard(client_io);
    std::thread client_thread([&] { client_io.run(); });
    struct joiner {
        std::thread& t;
        net::executor_work_guard<net::io_context::executor_type>& w;
        ~joiner()
        {
            w.reset();
            t.join();
        }
    } join_client{client_thread, client_work};
    tcp::socket socket(client_io);
    socket.connect(srv.endpoint());
    pulse_type::options po;
    po.id = "far";
    po.interval = 10ms;
    client c;
    c.p = std::make_unique<pulse_type>(std::move(socket), po);
    c.run();
    REQUIRE(srv.rec.wait_for("far", true));
    // One sample of each side per beat, read between beats (the sleep only
    // paces the reading; nothing is decided by it).
    std::vector<long long> server_us;
    std::vector<long long> client_us;
    std::uint64_t beats = 0;
    const auto give_up = steady::now() + 30s;
    while (server_us.size() < 150 && steady::now() < give_up) {
        std::this_thread::sleep_for(5ms);
        if (c.p->beats_sent() == beats)
            continue;
        beats = c.p->beats_sent();
        const auto theirs = srv.watcher().last_rtt("far");
        const auto ours = c.p->last_rtt();
        if (!theirs || !ours)
            continue;
        server_us.push_back(theirs->count());
        client_us.push_back(std::chrono::duration_cast<std::chrono::microseconds>(*ours).count());
    }
    REQUIRE(server_us.size() >= 100);
    auto median = [](std::vector<long long> v) {
        std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
        return v[v.size() / 2];
    };
    const long long at_server = median(server_us);
    const long long at_client = median(client_us);
    CAPTURE(at_server, at_client, server_us.size());
    // Within 2x or 50 us of each other, whichever is looser.
    const long long low = std::min(at_server, at_client);
    const long long high = std::max(at_server, at_client);
    CHECK(high <= std::max(2 * low, low + 50));
    CHECK(srv.watcher().rtt_variation("far").has_value());
    c.p->leave();
    CHECK(outcome(c.done) == heartbeat::error_code());
}
