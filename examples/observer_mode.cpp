// Observer mode: give an existing line-based protocol liveness without
// changing a byte of it.
//
// The protocol: a client sends "HELLO <name>", then any lines; "PING" is
// answered with "PONG". The server calls monitor.touch(name) for every line
// it reads, and the monitor reports peers that fall silent. Each client
// uses an observer_pulse: it writes "PING" every interval (its own beat, in
// its own protocol) and calls touch() for every line it reads, so it
// notices a server that stops answering.
//
// Script (about 3 s): three clients connect; "hung" stops sending after 1 s
// (its socket stays open): the server reports it offline. The server stops
// answering "deaf" after 1.5 s: that client reports the server lost.
#include <heartbeat/monitor.hpp>
#include <heartbeat/observer_pulse.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

namespace net = heartbeat::net;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto interval = 100ms;

// ---- server: an ordinary line server plus two calls into the monitor ----

class line_session : public std::enable_shared_from_this<line_session> {
public:
    line_session(tcp::socket s, heartbeat::monitor<std::string>& m, bool& ignore_deaf)
        : socket_(std::move(s)), monitor_(m), ignore_deaf_(ignore_deaf)
    {
    }

    void start() { read(); }

private:
    void read()
    {
        net::async_read_until(socket_, net::dynamic_buffer(buffer_), '\n',
                              [self = shared_from_this()](heartbeat::error_code ec, std::size_t n) {
                                  self->on_line(ec, n);
                              });
    }

    void on_line(heartbeat::error_code ec, std::size_t n)
    {
        if (ec) {
            if (!name_.empty())
                monitor_.remove(name_);  // the connection is gone: offline now
            return;
        }
        const std::string line = buffer_.substr(0, n - 1);
        buffer_.erase(0, n);
        if (line.rfind("HELLO ", 0) == 0)
            name_ = line.substr(6);
        if (!name_.empty())
            monitor_.touch(name_);  // observer mode: every line is a sign of life
        if (line == "PING" && !(name_ == "deaf" && ignore_deaf_))
            net::async_write(socket_, net::buffer(pong_), [](heartbeat::error_code, std::size_t) {});
        read();
    }

    tcp::socket socket_;
    heartbeat::monitor<std::string>& monitor_;
    bool& ignore_deaf_;
    std::string buffer_;
    std::string name_;
    const std::string pong_ = "PONG\n";
};

void accept_loop(tcp::acceptor& acceptor, heartbeat::monitor<std::string>& m, bool& ignore_deaf)
{
    acceptor.async_accept([&](heartbeat::error_code ec, tcp::socket s) {
        if (ec)
            return;
        std::make_shared<line_session>(std::move(s), m, ignore_deaf)->start();
        accept_loop(acceptor, m, ignore_deaf);
    });
}

// ---- client: its own protocol, beats through observer_pulse --------------

class line_client : public std::enable_shared_from_this<line_client> {
public:
    line_client(net::io_context& io, std::string name) : socket_(io), name_(std::move(name))
    {
        heartbeat::observer_pulse<>::options o;
        o.interval = interval;
        o.misses = 3;
        pulse_ = std::make_unique<heartbeat::observer_pulse<>>(io.get_executor(), o);
    }

    void start(const tcp::endpoint& server)
    {
        socket_.connect(server);
        write("HELLO " + name_);
        pulse_->start([this] { write("PING"); },  // how a beat is written
                      [this] {
                          std::printf("client %-6s: server lost (no reply for 3 intervals)\n", name_.c_str());
                          close();
                      });
        read();
    }

    // Simulates a hung process: no more writes, no more reads, socket open.
    void hang() { pulse_->stop(); }

    void close()
    {
        pulse_->stop();
        heartbeat::error_code ignored;
        socket_.close(ignored);
    }

private:
    void write(std::string line)
    {
        auto data = std::make_shared<std::string>(std::move(line) + "\n");
        net::async_write(socket_, net::buffer(*data), [data](heartbeat::error_code, std::size_t) {});
    }

    void read()
    {
        net::async_read_until(socket_, net::dynamic_buffer(buffer_), '\n',
                              [self = shared_from_this()](heartbeat::error_code ec, std::size_t n) {
                                  if (ec)
                                      return;
                                  self->buffer_.erase(0, n);
                                  self->pulse_->touch();  // anything from the server is life
                                  self->read();
                              });
    }

    tcp::socket socket_;
    std::string name_;
    std::string buffer_;
    std::unique_ptr<heartbeat::observer_pulse<>> pulse_;
};

} // namespace

int main()
{
    net::io_context io;

    heartbeat::monitor<std::string>::options opts;
    opts.detection.interval = interval;
    opts.detection.misses = 3;
    heartbeat::monitor<std::string> monitor(io, opts);
    const auto start = std::chrono::steady_clock::now();
    auto ms = [&] {
        return static_cast<long long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count());
    };
    monitor.on_online([&](const std::string& name) { std::printf("%5lld ms server: %s online\n", ms(), name.c_str()); });
    monitor.on_offline([&](const std::string& name, heartbeat::offline_reason r) {
        std::printf("%5lld ms server: %s offline (%s)\n", ms(), name.c_str(), std::string(to_string(r)).c_str());
    });

    tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
    bool ignore_deaf = false;
    accept_loop(acceptor, monitor, ignore_deaf);

    auto steady = std::make_shared<line_client>(io, "steady");
    auto hung = std::make_shared<line_client>(io, "hung");
    auto deaf = std::make_shared<line_client>(io, "deaf");
    for (auto& c : {steady, hung, deaf})
        c->start(acceptor.local_endpoint());

    net::steady_timer t1(io, 1s), t2(io, 1500ms), end(io, 3s);
    t1.async_wait([&](heartbeat::error_code) {
        std::printf("%5lld ms hung stops talking (socket left open)\n", ms());
        hung->hang();
    });
    t2.async_wait([&](heartbeat::error_code) {
        std::printf("%5lld ms server stops answering deaf\n", ms());
        ignore_deaf = true;
    });
    end.async_wait([&](heartbeat::error_code) {
        std::printf("%5lld ms done: %zu online (%s)\n", ms(), monitor.online_count(),
                    monitor.is_online("steady") ? "steady is" : "steady is NOT");
        for (auto& c : {steady, hung, deaf})
            c->close();
        monitor.stop();
        acceptor.close();
        io.stop();
    });
    io.run();
    return monitor.is_online("hung") ? 1 : 0;
}
