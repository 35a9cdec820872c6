// A consumer of the optional heartbeat::redis component: it must compile
// and link (hiredis comes with the target). Nothing connects: no Redis is
// needed to prove the packaging.
#include <heartbeat/heartbeat.hpp>
#include <heartbeat/redis.hpp>

#include <iostream>

int main()
{
    heartbeat::net::io_context io;
    heartbeat::redis::gateway::options o;
    o.name = "consumer";
    heartbeat::redis::gateway gateway(io, o);
    heartbeat::redis::directory directory(io, {});
    std::cout << "heartbeat::redis links; queued " << gateway.stats().queued << '\n';
    return directory.connected() ? 1 : 0;
}
