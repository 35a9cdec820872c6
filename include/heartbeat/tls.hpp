// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_TLS_HPP
#define HEARTBEAT_TLS_HPP

// The components over TLS (CMake target heartbeat::tls, which links
// OpenSSL; <heartbeat/heartbeat.hpp> stays free of it).
//
// Server: `tls::watcher<> w(io, opts); w.accept_from(acceptor, ssl_ctx);`
// runs each connection's TLS handshake inside its session, bounded by the
// hello timeout and `max_handshakes`; failures reach on_refused. A session
// the server ends (a refusal, a replacement, stop()) sends close_notify
// after its last frame, bounded by the close timeout; one the peer ends
// (GOODBYE, EOF) or that timed out is closed at once, as over TCP.
//
// Client: `tls::reconnecting_client<> c(io, opts, tls::connector(ssl_ctx));`
// connects, sends SNI, verifies the server's certificate and its name (on
// by default), handshakes, then runs the pulse; each failed attempt
// reaches on_attempt_failed with its error.

#include <heartbeat/detail/config.hpp>
#include <heartbeat/error.hpp>

#if defined(HEARTBEAT_USE_BOOST_ASIO)
#include <boost/asio/ssl.hpp>
#else
#include <asio/ssl.hpp>
#endif

#include <heartbeat/core/fixed_misses.hpp>
#include <heartbeat/pulse.hpp>
#include <heartbeat/reconnecting_client.hpp>
#include <heartbeat/watcher.hpp>

#include <chrono>
#include <string>
#include <system_error>
#include <utility>

namespace heartbeat::tls {

namespace ssl = net::ssl;

/// The errors of X.509 certificate verification (OpenSSL's X509_V_ERR_*
/// codes: expired, hostname mismatch, self-signed, ...), so that a failed
/// handshake says why the certificate was refused rather than only
/// "certificate verify failed".
inline const detail::error_category_base& verify_category() noexcept
{
    struct category final : detail::error_category_base {
        const char* name() const noexcept override { return "heartbeat.tls.verify"; }
        std::string message(int v) const override { return ::X509_verify_cert_error_string(v); }
    };
    static const category instance;
    return instance;
}

/// TLS over TCP, as Asio spells it.
using stream = ssl::stream<net::ip::tcp::socket>;

template <class Key = std::string, class Policy = fixed_misses<std::chrono::steady_clock>>
using watcher = heartbeat::watcher<stream, Key, Policy>;

template <class Clock = std::chrono::steady_clock, class Policy = fixed_misses<Clock>>
using pulse = heartbeat::pulse<stream, Clock, Policy>;

/// reconnecting_client's connector for TLS: wraps each connected socket in
/// a TLS stream that sends SNI and verifies the server.
class connector {
public:
    using stream_type = stream;

    struct options {
        /// The name sent as SNI and checked against the server's
        /// certificate; empty: the host the client connects to. (SNI is
        /// sent for names only, never for an address literal, RFC 6066.)
        std::string server_name;
        /// Verify the server's certificate chain against the context's
        /// trust anchors (`set_default_verify_paths()` for the system's,
        /// `add_certificate_authority()` for your own) and its name. Turn it
        /// off only where something else authenticates the server.
        bool verify = true;
    };

    /// `ctx` is held by reference: it must outlive every client that uses
    /// this connector. Its settings (protocol versions, trust anchors, a
    /// client certificate) apply to every connection.
    explicit connector(ssl::context& ctx) : ctx_(&ctx) {}
    connector(ssl::context& ctx, options o) : ctx_(&ctx), opts_(std::move(o)) {}

    stream_type make_stream(net::ip::tcp::socket&& socket, const std::string& host, error_code& ec)
    {
        stream_type s(std::move(socket), *ctx_);
        ec = {};
        const std::string& name = opts_.server_name.empty() ? host : opts_.server_name;
        error_code not_an_address;
        (void)net::ip::make_address(name, not_an_address);
        if (not_an_address && !name.empty() && SSL_set_tlsext_host_name(s.native_handle(), name.c_str()) != 1) {
            ec = error_code(static_cast<int>(::ERR_get_error()), net::error::get_ssl_category());
            return s;
        }
        if (!opts_.verify) {
            s.set_verify_mode(ssl::verify_none, ec);
            return s;
        }
        s.set_verify_mode(ssl::verify_peer, ec);
        if (!ec)
            s.set_verify_callback(
                [check = ssl::host_name_verification(name)](bool preverified, ssl::verify_context& v) mutable {
                    if (check(preverified, v))
                        return true;
                    // The chain was fine but the name was not: say so (the
                    // server then hears "bad certificate", and the client
                    // the mismatch, not an unspecified failure).
                    if (preverified)
                        ::X509_STORE_CTX_set_error(v.native_handle(), X509_V_ERR_HOSTNAME_MISMATCH);
                    return false;
                },
                ec);
        return s;
    }

    /// Why a handshake failed, as precisely as OpenSSL knows: the
    /// certificate's verification error (verify_category) when that was
    /// the cause, else the handshake's own error.
    error_code explain_failure(stream_type& s, const error_code& handshake_error) const
    {
        // Without verification OpenSSL still records the chain's result,
        // which then caused nothing.
        if (!opts_.verify)
            return handshake_error;
        const long v = ::SSL_get_verify_result(s.native_handle());
        if (v != X509_V_OK)
            return error_code(static_cast<int>(v), verify_category());
        return handshake_error;
    }

private:
    ssl::context* ctx_;
    options opts_;
};

/// A client that stays connected over TLS.
template <class Clock = std::chrono::steady_clock>
using reconnecting_client = heartbeat::reconnecting_client<Clock, connector>;

} // namespace heartbeat::tls

#endif
