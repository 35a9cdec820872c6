// A loopback TCP forwarder the test can cut and restore: the network
// between one process and a server, under the test's control. Cutting
// closes every forwarded connection and refuses new ones (accepts and
// closes at once), like a partition the peer notices by EOF.
#ifndef HEARTBEAT_TEST_TCP_FORWARDER_HPP
#define HEARTBEAT_TEST_TCP_FORWARDER_HPP

#include <heartbeat/detail/config.hpp>

#include <array>
#include <future>
#include <list>
#include <memory>
#include <thread>

namespace heartbeat_test {

class tcp_forwarder {
    using tcp = heartbeat::net::ip::tcp;

public:
    explicit tcp_forwarder(unsigned short target_port)
        : target_(heartbeat::net::ip::make_address("127.0.0.1"), target_port),
          acceptor_(io_, tcp::endpoint(heartbeat::net::ip::make_address("127.0.0.1"), 0))
    {
        accept();
        thread_ = std::thread([this] { io_.run(); });
    }

    tcp_forwarder(const tcp_forwarder&) = delete;
    tcp_forwarder& operator=(const tcp_forwarder&) = delete;

    ~tcp_forwarder()
    {
        on_io([this] {
            heartbeat::error_code ignored;
            acceptor_.close(ignored);
            close_all();
        });
        io_.stop();
        thread_.join();
    }

    unsigned short port() const { return acceptor_.local_endpoint().port(); }

    void cut()
    {
        on_io([this] {
            cut_ = true;
            close_all();
        });
    }

    void restore()
    {
        on_io([this] {
            cut_ = false;
            silent_ = false;
        });
    }

    /// A blackhole, as when a NAT mapping or a firewall flow vanishes: the
    /// connections stay open, every byte either way is dropped.
    void blackhole()
    {
        on_io([this] { silent_ = true; });
    }

private:
    struct link {
        explicit link(heartbeat::net::io_context& io) : down(io), up(io) {}
        tcp::socket down; // the client's side
        tcp::socket up;   // the server's side
        std::array<char, 16384> to_up{};
        std::array<char, 16384> to_down{};
    };

    template <class F>
    void on_io(F f)
    {
        std::promise<void> done;
        heartbeat::net::post(io_, [&] {
            f();
            done.set_value();
        });
        done.get_future().wait();
    }

    void close_all()
    {
        for (auto& l : links_) {
            heartbeat::error_code ignored;
            l->down.close(ignored);
            l->up.close(ignored);
        }
        links_.clear();
    }

    void accept()
    {
        auto l = std::make_shared<link>(io_);
        acceptor_.async_accept(l->down, [this, l](const heartbeat::error_code& ec) {
            if (ec == heartbeat::net::error::operation_aborted)
                return;
            if (!ec && !cut_) {
                links_.push_back(l);
                l->up.async_connect(target_, [this, l](const heartbeat::error_code& connect_ec) {
                    if (connect_ec) {
                        heartbeat::error_code ignored;
                        l->down.close(ignored);
                        return;
                    }
                    pump(l, l->down, l->up, l->to_up);
                    pump(l, l->up, l->down, l->to_down);
                });
            }
            accept(); // a cut link's socket closes with `l`
        });
    }

    void pump(const std::shared_ptr<link>& l, tcp::socket& from, tcp::socket& to, std::array<char, 16384>& buf)
    {
        from.async_read_some(heartbeat::net::buffer(buf), [this, l, &from, &to, &buf](const heartbeat::error_code& ec,
                                                                                      std::size_t n) {
            if (ec) {
                heartbeat::error_code ignored;
                to.close(ignored);
                from.close(ignored);
                return;
            }
            if (silent_)
                return pump(l, from, to, buf);
            heartbeat::net::async_write(to, heartbeat::net::buffer(buf.data(), n),
                                        [this, l, &from, &to, &buf](const heartbeat::error_code& write_ec,
                                                                     std::size_t) {
                                            if (!write_ec)
                                                pump(l, from, to, buf);
                                        });
        });
    }

    heartbeat::net::io_context io_{1};
    tcp::endpoint target_;
    tcp::acceptor acceptor_;
    std::list<std::shared_ptr<link>> links_;
    bool cut_ = false;
    bool silent_ = false;
    std::thread thread_;
};

} // namespace heartbeat_test

#endif
