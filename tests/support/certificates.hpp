// Throwaway TLS certificates made with libcrypto at run time, and the
// server/client contexts that use them: for the tests over TLS.
#ifndef HEARTBEAT_TESTS_SUPPORT_CERTIFICATES_HPP
#define HEARTBEAT_TESTS_SUPPORT_CERTIFICATES_HPP

#include <heartbeat/detail/config.hpp>

#if defined(HEARTBEAT_USE_BOOST_ASIO)
#include <boost/asio/ssl.hpp>
#else
#include <asio/ssl.hpp>
#endif

#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace heartbeat_test {

namespace ssl = heartbeat::net::ssl;

struct pem_pair {
    std::string certificate;
    std::string key;
};

inline std::string to_pem(BIO* bio)
{
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(n));
}

struct certificate_spec {
    std::string common_name = "localhost";
    std::string alt_names = "DNS:localhost,IP:127.0.0.1";
    long not_before_s = -60;    // relative to now
    long not_after_s = 24 * 3600;
};

// A P-256 key and a self-signed certificate made to `spec`.
inline pem_pair make_self_signed(const certificate_spec& spec = {})
{
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    REQUIRE(key);
    std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.not_before_s);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.not_after_s);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
    for (const auto& [nid, value] : std::vector<std::pair<int, std::string>>{
             {NID_subject_alt_name, spec.alt_names}, {NID_basic_constraints, "critical,CA:TRUE"}}) {
        X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
        REQUIRE(ext != nullptr);
        X509_add_ext(cert.get(), ext, -1);
        X509_EXTENSION_free(ext);
    }
    REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);

    std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(BIO_new(BIO_s_mem()), BIO_free);
    std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(BIO_new(BIO_s_mem()), BIO_free);
    PEM_write_bio_X509(cert_bio.get(), cert.get());
    PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    return {to_pem(cert_bio.get()), to_pem(key_bio.get())};
}

// A server context presenting `pem`, and a client context that trusts it.
struct contexts {
    explicit contexts(const pem_pair& pem) : server(ssl::context::tls_server), client(ssl::context::tls_client)
    {
        server.use_certificate_chain(heartbeat::net::buffer(pem.certificate));
        server.use_private_key(heartbeat::net::buffer(pem.key), ssl::context::pem);
        client.add_certificate_authority(heartbeat::net::buffer(pem.certificate));
    }
    ssl::context server;
    ssl::context client;
};

} // namespace heartbeat_test

#endif
