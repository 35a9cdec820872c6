// The components over TLS: ssl::stream<ip::tcp::socket>, with a
// self-signed certificate this test makes for itself.
#include <heartbeat/heartbeat.hpp>

#if defined(HEARTBEAT_USE_BOOST_ASIO)
#include <boost/asio/ssl.hpp>
#else
#include <asio/ssl.hpp>
#endif

#include "../support/run_until.hpp"

#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {
namespace net = heartbeat::net;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using tls_stream = ssl::stream<tcp::socket>;

struct pem_pair {
    std::string certificate;
    std::string key;
};

std::string to_pem(BIO* bio)
{
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(n));
}

// A P-256 key and a self-signed certificate for "localhost", valid a day.
pem_pair make_self_signed()
{
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    REQUIRE(key);
    std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1,
                               0);
    X509_set_issuer_name(cert.get(), name);
    REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);

    std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(BIO_new(BIO_s_mem()), BIO_free);
    std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(BIO_new(BIO_s_mem()), BIO_free);
    PEM_write_bio_X509(cert_bio.get(), cert.get());
    PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    return {to_pem(cert_bio.get()), to_pem(key_bio.get())};
}

using heartbeat_test::run_until;
} // namespace

TEST_CASE("tls: watcher and pulse over ssl::stream<tcp::socket>", "[tls]")
{
    const pem_pair pem = make_self_signed();
    ssl::context server_ctx(ssl::context::tls_server);
    server_ctx.use_certificate_chain(net::buffer(pem.certificate));
    server_ctx.use_private_key(net::buffer(pem.key), ssl::context::pem);
    ssl::context client_ctx(ssl::context::tls_client);
    client_ctx.add_certificate_authority(net::buffer(pem.certificate));
    client_ctx.set_verify_mode(ssl::verify_peer);

    net::io_context io;
    heartbeat::watcher<tls_stream>::options wo;
    wo.detection.interval = 20ms;
    wo.detection.min_interval = 10ms;
    heartbeat::watcher<tls_stream> w(io, wo);
    std::vector<std::string> log;
    w.on_online([&](const std::string& id) { log.push_back("online " + id); });
    w.on_offline([&](const std::string& id, heartbeat::offline_reason r) {
        log.push_back("offline " + id + " " + std::string(heartbeat::to_string(r)));
    });
    w.on_message([&](const std::string& id, std::string_view m) { log.push_back(id + ": " + std::string(m)); });

    // The application does the TLS handshake, then hands the stream over.
    tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
    auto server_side = std::make_shared<tls_stream>(io, server_ctx);
    acceptor.async_accept(server_side->lowest_layer(), [&](heartbeat::error_code ec) {
        REQUIRE_FALSE(ec);
        server_side->async_handshake(ssl::stream_base::server, [&](heartbeat::error_code hec) {
            REQUIRE_FALSE(hec);
            w.adopt(std::move(*server_side));
        });
    });

    tls_stream client_side(io, client_ctx);
    client_side.lowest_layer().connect(acceptor.local_endpoint());
    std::optional<heartbeat::error_code> handshake;
    client_side.async_handshake(ssl::stream_base::client, [&](heartbeat::error_code ec) { handshake = ec; });
    REQUIRE(run_until(io, [&] { return handshake.has_value(); }));
    REQUIRE_FALSE(*handshake);

    heartbeat::pulse<tls_stream>::options po;
    po.id = "secure";
    po.interval = 20ms;
    heartbeat::pulse<tls_stream> p(std::move(client_side), po);
    std::optional<heartbeat::error_code> ended;
    p.async_run([&](heartbeat::error_code ec) { ended = ec; });
    REQUIRE(run_until(io, [&] { return p.echoes_received() >= 3; }));
    CHECK(log == std::vector<std::string>{"online secure"});
    CHECK(w.rtt("secure").has_value());  // TCP beneath TLS

    p.async_send("over tls", [](heartbeat::error_code) {});
    REQUIRE(run_until(io, [&] { return log.size() == 2; }));
    CHECK(log.back() == "secure: over tls");
    p.leave();
    REQUIRE(run_until(io, [&] { return ended.has_value() && log.size() == 3; }));
    CHECK_FALSE(*ended);
    CHECK(log.back() == "offline secure left");
    w.stop();
}
