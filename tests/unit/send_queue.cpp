#include <heartbeat/detail/send_queue.hpp>

#include <heartbeat/wire/frame.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace {
namespace net = heartbeat::net;
using heartbeat::detail::send_queue;

heartbeat::detail::shared_bytes data(const std::string& s)
{
    return std::make_shared<std::vector<std::uint8_t>>(s.begin(), s.end());
}

std::vector<std::string> contents(const std::vector<net::const_buffer>& bufs)
{
    std::vector<std::string> out;
    for (const auto& b : bufs)
        out.emplace_back(static_cast<const char*>(b.data()), b.size());
    return out;
}

void push_beat(send_queue& q, const char* tag)
{
    q.push_urgent(reinterpret_cast<const std::uint8_t*>(tag), std::char_traits<char>::length(tag));
}
} // namespace

TEST_CASE("send queue: beats go out ahead of queued data, never behind it", "[send_queue]")
{
    send_queue q;
    q.push(data("data-1"));
    q.push(data("data-2"));
    push_beat(q, "beat-1");
    CHECK(contents(q.prepare()) == std::vector<std::string>{"beat-1", "data-1", "data-2"});
    CHECK(q.writing());

    // While that write is in flight, more data queues up, then a beat: the
    // beat leads the next write, ahead of the data queued before it.
    q.push(data("data-3"));
    push_beat(q, "beat-2");
    q.consume({});
    CHECK_FALSE(q.writing());
    CHECK(contents(q.prepare()) == std::vector<std::string>{"beat-2", "data-3"});
    q.consume({});
    CHECK(q.empty());
    CHECK(q.bytes() == 0);
}

TEST_CASE("send queue: completions report the write's outcome", "[send_queue]")
{
    net::io_context io;
    send_queue q;
    std::vector<heartbeat::error_code> done;
    auto record = [&](heartbeat::error_code ec) { done.push_back(ec); };
    q.push(data("a"), heartbeat::detail::erased_handler<heartbeat::error_code>(record, io.get_executor()));
    q.push(data("b"), heartbeat::detail::erased_handler<heartbeat::error_code>(record, io.get_executor()));
    CHECK(q.bytes() == 2);
    q.prepare();
    q.push(data("c"), heartbeat::detail::erased_handler<heartbeat::error_code>(record, io.get_executor()));
    q.consume(net::error::broken_pipe);        // the batch of a and b failed
    q.fail_pending(net::error::operation_aborted);  // c never went out
    CHECK(done.empty());  // completions never run inside the call
    io.run();
    CHECK(done == std::vector<heartbeat::error_code>{net::error::broken_pipe, net::error::broken_pipe,
                                                     net::error::operation_aborted});
    CHECK(q.empty());
}

TEST_CASE("send queue: a batch holds at most max_batch frames", "[send_queue]")
{
    send_queue q;
    for (int i = 0; i < 40; ++i)
        q.push(data(std::to_string(i)));
    CHECK(q.prepare().size() == send_queue::max_batch);
    q.consume({});
    CHECK(q.prepare().size() == send_queue::max_batch);
    q.consume({});
    CHECK(q.prepare().size() == 40 - 2 * send_queue::max_batch);
}

TEST_CASE("make_data_frame: one DATA frame, or nothing past the peer's limit", "[send_queue]")
{
    using heartbeat::detail::make_data_frame;
    const auto f = make_data_frame("abc", 3);
    REQUIRE(f);
    CHECK(*f == std::vector<std::uint8_t>{0x06, 0, 0, 3, 'a', 'b', 'c'});
    CHECK_FALSE(make_data_frame("abcd", 3));
    CHECK(make_data_frame("", 0));
    // The header's 24 bits cap any limit.
    const std::string max(heartbeat::wire::max_encodable_payload, 'x');
    CHECK(make_data_frame(max, std::size_t(-1)));
    CHECK_FALSE(make_data_frame(max + "x", std::size_t(-1)));
}
