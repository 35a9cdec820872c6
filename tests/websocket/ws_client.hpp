// A Beast WebSocket client for the tests, over TCP or TLS: it records what
// it reads, the pings it answered and how it ended.
#ifndef HEARTBEAT_TESTS_WEBSOCKET_WS_CLIENT_HPP
#define HEARTBEAT_TESTS_WEBSOCKET_WS_CLIENT_HPP

#include <heartbeat/websocket.hpp>

#include <boost/beast/core/buffers_to_string.hpp>

#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace heartbeat_test {

/// It answers pings only while it reads (Beast does that inside reads), so
/// `reading = false` before it opens makes it silent. Run it on the
/// io_context it was made with; `is_open` once the upgrade is done.
template <class NextLayer = heartbeat::net::ip::tcp::socket>
struct ws_client : std::enable_shared_from_this<ws_client<NextLayer>> {
    using tcp = heartbeat::net::ip::tcp;

    template <class... LayerArgs>
    explicit ws_client(heartbeat::net::io_context& io, LayerArgs&... layer_args) : ws(io, layer_args...)
    {
    }
    /// On an executor of its own (a strand, where the io_context has
    /// several threads).
    explicit ws_client(const heartbeat::net::any_io_executor& ex) : ws(ex) {}

    void open(unsigned short port, std::string target, std::string subprotocol = {}, std::string origin = {})
    {
        namespace bws = boost::beast::websocket;
        // Whole messages in one frame each: a peer that refuses one mid-way
        // then never races a second frame of it (Beast 1.74 asserts there).
        ws.auto_fragment(false);
        ws.control_callback([this](bws::frame_type k, boost::beast::string_view) {
            if (k == bws::frame_type::ping)
                ++pings;
        });
        ws.set_option(bws::stream_base::decorator([subprotocol, origin](bws::request_type& r) {
            if (!subprotocol.empty())
                r.set(boost::beast::http::field::sec_websocket_protocol, subprotocol);
            if (!origin.empty())
                r.set(boost::beast::http::field::origin, origin);
        }));
        auto self = this->shared_from_this();
        const std::string host = "127.0.0.1:" + std::to_string(port);
        boost::beast::get_lowest_layer(ws).async_connect(
            {heartbeat::net::ip::make_address("127.0.0.1"), port}, [self, host, target](heartbeat::error_code ec) {
                if (ec)
                    return self->failed(ec);
                auto start_upgrade = [self, host, target] {
                    self->ws.async_handshake(self->upgrade, host, target, [self](heartbeat::error_code e) {
                        if (e)
                            return self->failed(e);
                        self->is_open = true;
                        self->read();
                    });
                };
                if constexpr (std::is_same_v<NextLayer, tcp::socket>) {
                    start_upgrade();
                }
                else {
                    self->ws.next_layer().async_handshake(NextLayer::client, [self, start_upgrade](heartbeat::error_code e) {
                        if (e)
                            return self->failed(e);
                        start_upgrade();
                    });
                }
            });
    }

    void read()
    {
        if (!reading)
            return;
        auto self = this->shared_from_this();
        ws.async_read(buffer, [self](heartbeat::error_code ec, std::size_t) {
            if (ec)
                return self->failed(ec);
            self->messages.push_back(boost::beast::buffers_to_string(self->buffer.data()));
            self->buffer.consume(self->buffer.size());
            self->read();
        });
    }

    void failed(heartbeat::error_code ec)
    {
        error = ec;
        ended = true;
        close_code = ws.reason().code;
    }

    /// One message; call it again only after `then` ran (one write at a time).
    void send(std::string m, bool binary = false, std::function<void()> then = {})
    {
        ws.binary(binary);
        auto self = this->shared_from_this();
        auto p = std::make_shared<std::string>(std::move(m));
        ws.async_write(heartbeat::net::buffer(*p), [self, p, then](heartbeat::error_code, std::size_t) {
            if (then)
                then();
        });
    }

    /// Starts reading if it was not.
    void start_reading()
    {
        if (reading)
            return;
        reading = true;
        read();
    }

    /// The page's leave: a close with 1000.
    void leave()
    {
        ws.async_close(boost::beast::websocket::close_code::normal, [](heartbeat::error_code) {});
    }

    boost::beast::websocket::stream<NextLayer> ws;
    boost::beast::websocket::response_type upgrade;
    boost::beast::flat_buffer buffer;
    std::vector<std::string> messages;
    bool reading = true;
    bool is_open = false;
    bool ended = false;
    int pings = 0;
    std::uint16_t close_code = 0;
    heartbeat::error_code error;
};

} // namespace heartbeat_test

#endif
