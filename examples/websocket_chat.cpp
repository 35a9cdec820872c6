// Browsers as peers: a chat and presence server on heartbeat::websocket.
//
// Open http://127.0.0.1:8080/?id=alice in a few tabs (each with its own id).
// The page (examples/web/) connects in one of two modes, its choice:
//
// - ping (the default): a plain `new WebSocket('ws://host/?id=alice')`, no
//   library. The server pings it every interval and the browser answers by
//   itself, so a tab whose script is busy or frozen stays online;
// - framed (`&mode=framed`): the page runs the JavaScript client (js/,
//   served here at /js/), which speaks the heartbeat protocol.
//
// Either way the server knows who is online, and pushes to every page a
// presence list (each peer's state and round-trip time) whenever someone
// comes or goes, and every few seconds for the RTTs. A page's message goes
// to everyone, or to one peer by id when it starts with "@id ".
//
//   websocket_chat [--port 8080] [--interval-ms 1000] [--misses 3]
//                  [--token T] [--web DIR] [--js DIR] [--seconds S]
//
// --token makes the server admit only pages that present it (`&token=T`).
// --seconds stops it after S seconds (scripts/websocket-demo.sh uses it).
#include <heartbeat/websocket.hpp>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace net = heartbeat::net;
namespace ws = heartbeat::websocket;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

#ifndef HEARTBEAT_EXAMPLE_WEB_DIR
#define HEARTBEAT_EXAMPLE_WEB_DIR "examples/web"
#endif
#ifndef HEARTBEAT_EXAMPLE_JS_DIR
#define HEARTBEAT_EXAMPLE_JS_DIR "js"
#endif

namespace {

// ---- a little JSON, enough for strings and numbers ----------------------

std::string quoted(std::string_view s)
{
    std::string out = "\"";
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        }
        else if (u < 0x20) {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\u%04x", u);
            out += esc;
        }
        else {
            out += c; // UTF-8 passes through
        }
    }
    return out + '"';
}

// ---- serving the page --------------------------------------------------------

std::string content_type(const std::string& path)
{
    const auto dot = path.rfind('.');
    const std::string ext = dot == std::string::npos ? "" : path.substr(dot);
    if (ext == ".html")
        return "text/html; charset=utf-8";
    if (ext == ".js" || ext == ".mjs")
        return "text/javascript; charset=utf-8";
    if (ext == ".css")
        return "text/css; charset=utf-8";
    return "application/octet-stream";
}

// GET / and /app.js from the page's directory, /js/... from the JavaScript
// client's. Anything else, or a path that tries to climb out, is a 404.
ws::response serve(const std::string& web_dir, const std::string& js_dir, const ws::request& req)
{
    std::string path(req.target());
    path = path.substr(0, path.find('?'));
    ws::response res(ws::http::status::not_found, req.version());
    res.set(ws::http::field::content_type, "text/plain");
    res.body() = "not found\n";
    if (req.method() != ws::http::verb::get || path.find("..") != std::string::npos)
        return res;
    std::string file;
    if (path == "/" || path == "/index.html")
        file = web_dir + "/index.html";
    else if (path == "/app.js")
        file = web_dir + "/app.js";
    else if (path.rfind("/js/", 0) == 0)
        file = js_dir + path.substr(3);
    std::ifstream in(file, std::ios::binary);
    if (file.empty() || !in)
        return res;
    std::ostringstream body;
    body << in.rdbuf();
    res.result(ws::http::status::ok);
    res.set(ws::http::field::content_type, content_type(file));
    res.set(ws::http::field::cache_control, "no-cache");
    res.body() = body.str();
    return res;
}

} // namespace

int main(int argc, char** argv)
{
    long port = 8080, interval_ms = 1000, misses = 3, seconds = 0;
    std::string token, web_dir = HEARTBEAT_EXAMPLE_WEB_DIR, js_dir = HEARTBEAT_EXAMPLE_JS_DIR;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--port")
            port = std::stol(v);
        else if (k == "--interval-ms")
            interval_ms = std::stol(v);
        else if (k == "--misses")
            misses = std::stol(v);
        else if (k == "--seconds")
            seconds = std::stol(v);
        else if (k == "--token")
            token = v;
        else if (k == "--web")
            web_dir = v;
        else if (k == "--js")
            js_dir = v;
        else {
            std::fprintf(stderr, "websocket_chat: unknown option %s\n", k.c_str());
            return 2;
        }
    }

    std::setvbuf(stdout, nullptr, _IOLBF, 0); // one event a line, as it happens
    net::io_context io;

    // ---- the watcher: who is online, by id ----------------------------------
    ws::watcher<>::options opts;
    opts.detection.interval = std::chrono::milliseconds(interval_ms);
    opts.detection.misses = static_cast<unsigned>(misses);
    // Ping-mode pages run no library: the server's pings, which the browser
    // answers, are their beats. (Framed pages answer PROBE frames instead.)
    opts.probe_interval = opts.detection.interval;
    ws::watcher<> server(io, opts);
    if (!token.empty())
        server.set_authenticator([token](const ws::watcher<>::hello_info& h) -> heartbeat::error_code {
            return h.credential == token ? heartbeat::error_code{} : heartbeat::error::auth_failed;
        });

    // What the pages see: everyone who has been here, online or gone (and
    // why). Only callbacks touch it, and they run one at a time.
    std::map<std::string, std::string> state; // id -> "online" | "offline (reason)"

    // The list every page gets: each peer's state, and for those online the
    // round-trip time (the same figure as server.rtt(id): framed pages from
    // their beats, ping-mode pages from the pongs) and the beat interval.
    const auto presence = [&] {
        std::map<std::string, ws::watcher<>::session_record> live;
        for (auto& r : server.sessions())
            live.emplace(r.id, std::move(r));
        std::string peers;
        for (const auto& [id, s] : state) {
            const auto r = s == "online" ? live.find(id) : live.end();
            const bool have = r != live.end();
            peers += (peers.empty() ? "{\"id\":" : ",{\"id\":") + quoted(id) + ",\"state\":" + quoted(s) +
                     ",\"rtt_us\":" + (have && r->second.rtt ? std::to_string(r->second.rtt->count()) : "null") +
                     ",\"interval_ms\":" +
                     (have ? std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(r->second.interval).count())
                           : "null") +
                     "}";
        }
        return "{\"type\":\"presence\",\"online\":" + std::to_string(server.online_count()) + ",\"peers\":[" + peers +
               "]}";
    };

    server.on_online([&](const std::string& id) {
        std::printf("%s online\n", id.c_str());
        state[id] = "online";
        server.broadcast(presence());
    });
    server.on_offline([&](const std::string& id, heartbeat::offline_reason why) {
        std::printf("%s offline (%s)\n", id.c_str(), std::string(heartbeat::to_string(why)).c_str());
        state[id] = "offline (" + std::string(heartbeat::to_string(why)) + ")";
        server.broadcast(presence());
    });
    server.on_message([&](const std::string& from, std::string_view text) {
        // "@bob hi": to bob alone (and back to the sender); anything else:
        // to everyone.
        if (text.size() > 1 && text[0] == '@') {
            const auto space = text.find(' ');
            const std::string to(text.substr(1, space == std::string_view::npos ? std::string_view::npos : space - 1));
            const auto body = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
            const auto msg = "{\"type\":\"chat\",\"from\":" + quoted(from) + ",\"to\":" + quoted(to) +
                             ",\"text\":" + quoted(body) + "}";
            if (!server.send(to, msg))
                server.send(from, "{\"type\":\"notice\",\"text\":" + quoted(to + " is not online") + "}");
            else if (to != from)
                server.send(from, msg);
            return;
        }
        server.broadcast("{\"type\":\"chat\",\"from\":" + quoted(from) + ",\"text\":" + quoted(text) + "}");
    });
    server.on_refused([](const ws::watcher<>::refusal& r) {
        std::printf("refused %s: %s\n", r.remote_address.c_str(), r.error.message().c_str());
    });

    // RTTs change: refresh everyone's list now and then. (on the strand, as
    // `state` is the callbacks')
    net::steady_timer refresh(io);
    std::function<void()> tick = [&] {
        refresh.expires_after(2s);
        refresh.async_wait([&](heartbeat::error_code ec) {
            if (ec)
                return;
            net::dispatch(server.get_executor(), [&] { server.broadcast(presence()); });
            tick();
        });
    };
    tick();

    // ---- the endpoint: upgrades for pages, plain HTTP for the files ----------
    ws::options wo;
    wo.on_http = [web_dir, js_dir](const ws::request& req) { return serve(web_dir, js_dir, req); };
    // A public server would also list the origins its pages come from:
    // wo.allowed_origins = {"https://chat.example.com"};

    tcp::acceptor acceptor(io);
    const tcp::endpoint at(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port));
    acceptor.open(at.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(at);
    acceptor.listen();
    server.accept_from(acceptor, ws::endpoint(wo));
    std::printf("websocket_chat: open http://127.0.0.1:%u/?id=alice (ping mode) or "
                "http://127.0.0.1:%u/?id=bob&mode=framed\n",
                acceptor.local_endpoint().port(), acceptor.local_endpoint().port());
    std::fflush(stdout);

    // Ctrl-C, SIGTERM or --seconds: every page gets a close 1001 (going away)
    // and reconnects to the next server.
    const auto stop = [&] {
        refresh.cancel();
        server.stop();
        acceptor.close();
    };
    net::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](heartbeat::error_code ec, int) {
        if (!ec)
            stop();
    });
    net::steady_timer deadline(io);
    if (seconds > 0) {
        deadline.expires_after(std::chrono::seconds(seconds));
        deadline.async_wait([&](heartbeat::error_code ec) {
            if (!ec) {
                signals.cancel();
                stop();
            }
        });
    }
    io.run();
    std::printf("websocket_chat: stopped\n");
}
