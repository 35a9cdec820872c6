// A real redis-server for the cluster tests: started on a free loopback
// port in a scratch directory, killed (SIGKILL) and restarted on the same
// port at will, and always killed by PID at the end.
#ifndef HEARTBEAT_TEST_REDIS_SERVER_HPP
#define HEARTBEAT_TEST_REDIS_SERVER_HPP

#include "../support/child_process.hpp"

#include <heartbeat/detail/config.hpp>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include <unistd.h>

namespace heartbeat_test {

class redis_server {
public:
    /// redis-server from PATH or /usr/bin (Debian's package), if installed.
    static std::optional<std::string> binary()
    {
        std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
        path += ":/usr/bin:/usr/sbin:/usr/local/bin";
        for (std::size_t start = 0; start <= path.size();) {
            auto end = path.find(':', start);
            if (end == std::string::npos)
                end = path.size();
            const auto candidate = path.substr(start, end - start) + "/redis-server";
            if (end > start && ::access(candidate.c_str(), X_OK) == 0)
                return candidate;
            start = end + 1;
        }
        return std::nullopt;
    }

    /// `persistent`: an append-only file synced on every write, so a
    /// restart keeps the data (and the leases, whose expiry is absolute).
    explicit redis_server(bool persistent = false) : persistent_(persistent)
    {
        char dir[] = "/tmp/heartbeat-redis-XXXXXX";
        if (!::mkdtemp(dir))
            throw std::runtime_error("mkdtemp failed");
        dir_ = dir;
        port_ = free_port();
        start();
    }

    redis_server(const redis_server&) = delete;
    redis_server& operator=(const redis_server&) = delete;

    ~redis_server()
    {
        process_.reset();
        std::system(("rm -rf '" + dir_ + "'").c_str());
    }

    unsigned short port() const noexcept { return port_; }

    /// Starts it again (on the same port and directory) after kill().
    void start()
    {
        process_ = std::make_unique<child_process>(std::vector<std::string>{
            *binary(), "--port", std::to_string(port_), "--bind", "127.0.0.1", "--dir", dir_, "--save", "",
            "--appendonly", persistent_ ? "yes" : "no", "--appendfsync", "always", "--daemonize", "no",
            "--protected-mode", "no", "--loglevel", "notice"});
        const auto ready = process_->wait_line(
            [](const std::string& l) { return l.find("Ready to accept connections") != std::string::npos; },
            std::chrono::seconds(20));
        if (!ready)
            throw std::runtime_error("redis-server did not start on port " + std::to_string(port_));
    }

    /// SIGKILL: no shutdown save, connections reset.
    void kill() { process_.reset(); }

private:
    static unsigned short free_port()
    {
        heartbeat::net::io_context io;
        heartbeat::net::ip::tcp::acceptor a(
            io, heartbeat::net::ip::tcp::endpoint(heartbeat::net::ip::make_address("127.0.0.1"), 0));
        return a.local_endpoint().port();
    }

    bool persistent_;
    std::string dir_;
    unsigned short port_ = 0;
    std::unique_ptr<child_process> process_;
};

} // namespace heartbeat_test

#endif
