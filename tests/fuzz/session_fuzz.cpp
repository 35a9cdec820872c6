// libFuzzer target: the server's handshake and session state machine. A
// watcher adopts an in-memory stream and reads whatever the fuzzer sends, in
// fuzzer-chosen chunks; a well-behaved peer on a second stream must stay
// online throughout, and the hostile one must never leave the registry in
// a state that contradicts its session.
#include <heartbeat/watcher.hpp>

#include "../support/test_stream.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace {
namespace net = heartbeat::net;
using heartbeat_test::test_stream;
using namespace std::chrono_literals;
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    net::io_context io;
    heartbeat::watcher<test_stream>::options o;
    o.detection.interval = 1s;  // nobody times out within one input
    o.hello_timeout = 1s;
    o.max_frame = 1024;
    o.on_duplicate = heartbeat::duplicate_policy::reject;  // nobody steals the bystander's id
    heartbeat::watcher<test_stream> w(io, o);
    int online = 0;
    int offline = 0;
    w.on_online([&](const std::string&) { ++online; });
    w.on_offline([&](const std::string&, heartbeat::offline_reason) { ++offline; });

    // The bystander: a valid HELLO, then it just stays.
    auto good = test_stream::make_pair(io.get_executor());
    w.adopt(std::move(good.first));
    std::vector<std::uint8_t> hello;
    heartbeat::wire::append_hello(hello, {heartbeat::wire::protocol_version, 1000, "bystander", {}});
    net::async_write(good.second, net::buffer(hello), [](heartbeat::error_code, std::size_t) {});

    auto evil = test_stream::make_pair(io.get_executor());
    w.adopt(std::move(evil.first));
    std::size_t at = 0;
    while (at < size) {
        const std::size_t chunk = 1 + data[at] % 32;
        ++at;
        const std::size_t n = size - at < chunk ? size - at : chunk;
        net::async_write(evil.second, net::buffer(data + at, n), [](heartbeat::error_code, std::size_t) {});
        at += n;
        io.restart();
        io.poll();
    }
    io.restart();
    io.poll();

    // Whatever the hostile bytes did, the bystander is online and nobody
    // went offline without first coming online.
    if (!w.is_online("bystander") || offline > online - 1)
        std::abort();
    w.stop();
    io.restart();
    io.poll();
    return 0;
}
