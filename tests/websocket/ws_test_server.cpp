// A WebSocket watcher driven over stdin/stdout, for the tests that run
// outside C++: the JavaScript client's (js/test) and the browser's
// (tests/browser). One event per stdout line, one command per stdin line:
//
//   out: listening <port> | online <id> | offline <id> <reason> |
//        detected <id> <us> (before each offline <id> timeout: the silence
//        from the peer's last sign of life to the event, microseconds) |
//        message <id> <text> | refused <error> | rtt <id> <us>|none |
//        sessions <n> | sent <id> <verdict>
//   in:  send <id> <text> | broadcast <text> | kick <id> |
//        terms <id> <interval_ms> <misses> | rtt <id> | sessions | quit
//
// Options: --port P (0: any) --interval-ms I --misses N --token T
// (credentials must equal T) --origin O (repeatable) --probe-ms P
// --max-version V --max-peers K --retry-after-ms R --static DIR (serve
// DIR's files to plain HTTP requests, for pages).
#include <heartbeat/websocket.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace net = heartbeat::net;
namespace ws = heartbeat::websocket;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

namespace {

void say(const std::string& line)
{
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

std::string content_type(const std::string& path)
{
    auto ends = [&](const char* x) {
        const std::string s(x);
        return path.size() >= s.size() && path.compare(path.size() - s.size(), s.size(), s) == 0;
    };
    if (ends(".html"))
        return "text/html; charset=utf-8";
    if (ends(".js") || ends(".mjs"))
        return "text/javascript; charset=utf-8";
    if (ends(".css"))
        return "text/css";
    return "application/octet-stream";
}

ws::response serve_file(const std::string& root, const ws::request& req)
{
    std::string target(req.target());
    target = target.substr(0, target.find('?'));
    if (target == "/")
        target = "/index.html";
    ws::response res(ws::http::status::not_found, req.version());
    if (root.empty() || target.find("..") != std::string::npos)
        return res;
    std::ifstream in(root + target, std::ios::binary);
    if (!in)
        return res;
    std::ostringstream body;
    body << in.rdbuf();
    res.result(ws::http::status::ok);
    res.set(ws::http::field::content_type, content_type(target));
    res.set(ws::http::field::cache_control, "no-store");
    res.body() = body.str();
    return res;
}

} // namespace

int main(int argc, char** argv)
{
    std::vector<std::string> origins;
    std::string token, static_root;
    long port = 0, interval_ms = 1000, misses = 3, probe_ms = 0, max_version = 2, max_peers = 100000,
         retry_after_ms = 5000;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--origin")
            origins.push_back(v);
        else if (k == "--token")
            token = v;
        else if (k == "--static")
            static_root = v;
        else if (k == "--port")
            port = std::stol(v);
        else if (k == "--interval-ms")
            interval_ms = std::stol(v);
        else if (k == "--misses")
            misses = std::stol(v);
        else if (k == "--probe-ms")
            probe_ms = std::stol(v);
        else if (k == "--max-version")
            max_version = std::stol(v);
        else if (k == "--max-peers")
            max_peers = std::stol(v);
        else if (k == "--retry-after-ms")
            retry_after_ms = std::stol(v);
        else {
            std::fprintf(stderr, "ws_test_server: unknown option %s\n", k.c_str());
            return 2;
        }
    }

    net::io_context io;
    ws::watcher<>::options opts;
    opts.detection.interval = std::chrono::milliseconds(interval_ms);
    opts.detection.min_interval = 10ms;
    opts.detection.misses = static_cast<unsigned>(misses);
    opts.hello_timeout = 2s;
    opts.max_version = static_cast<std::uint8_t>(max_version);
    opts.max_peers = static_cast<std::size_t>(max_peers);
    opts.server_full_retry_after = std::chrono::milliseconds(retry_after_ms);
    // Ping-mode peers are probed at the interval; framed peers that offer
    // to answer PROBEs get one after this much silence.
    opts.probe_interval = std::chrono::milliseconds(probe_ms > 0 ? probe_ms : interval_ms);
    ws::watcher<> server(io, opts);

    ws::options wo;
    wo.allowed_origins = origins;
    wo.on_http = [static_root](const ws::request& req) { return serve_file(static_root, req); };
    const auto endpoint = ws::endpoint(wo);

    server.on_online([](const std::string& id) { say("online " + id); });
    // The detection figure a test checks against N x I: how long the peer
    // had been silent when the watcher declared it timed out.
    server.on_event([](const ws::watcher<>::event_type& e) {
        if (e.kind != heartbeat::transition::offline || e.reason != heartbeat::offline_reason::timeout)
            return;
        const auto silence = std::chrono::duration_cast<std::chrono::microseconds>(e.at - e.last_seen);
        say("detected " + e.key + " " + std::to_string(silence.count()));
    });
    server.on_offline([](const std::string& id, heartbeat::offline_reason r) {
        say("offline " + id + " " + std::string(heartbeat::to_string(r)));
    });
    server.on_message([](const std::string& id, std::string_view text) {
        say("message " + id + " " + std::string(text));
    });
    server.on_refused([](const ws::watcher<>::refusal& r) { say("refused " + r.error.message()); });
    if (!token.empty())
        server.set_authenticator([token](const ws::watcher<>::hello_info& h) -> heartbeat::error_code {
            if (h.credential == token)
                return {};
            return heartbeat::error::auth_failed;
        });

    tcp::acceptor acceptor(io);
    const tcp::endpoint at(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port));
    acceptor.open(at.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(at);
    acceptor.listen();
    server.accept_from(acceptor, endpoint);
    say("listening " + std::to_string(acceptor.local_endpoint().port()));

    auto guard = net::make_work_guard(io);
    std::thread input([&] {
        std::string line;
        while (std::getline(std::cin, line)) {
            std::istringstream in(line);
            std::string cmd, id;
            in >> cmd;
            if (cmd == "quit")
                break;
            if (cmd == "broadcast") {
                std::string text;
                std::getline(in >> std::ws, text);
                server.broadcast(text);
            }
            else if (cmd == "send") {
                std::string text;
                in >> id;
                std::getline(in >> std::ws, text);
                server.send(id, text);
            }
            else if (cmd == "kick") {
                in >> id;
                server.kick(id);
            }
            else if (cmd == "terms") {
                long ms = 0, n = 0;
                in >> id >> ms >> n;
                server.set_terms(id, std::chrono::milliseconds(ms), static_cast<unsigned>(n));
            }
            else if (cmd == "rtt") {
                in >> id;
                const auto r = server.rtt(id);
                say("rtt " + id + " " + (r ? std::to_string(r->count()) : std::string("none")));
            }
            else if (cmd == "sessions") {
                say("sessions " + std::to_string(server.sessions().size()));
            }
        }
        net::post(io, [&] {
            server.stop();
            acceptor.close();
            guard.reset();
        });
    });
    io.run();
    input.join();
}
