// Google Benchmark: the costs a server pays per peer and per beat.
//
//   registry_bench [--benchmark_format=json ...]
//
// Touch of a known peer by handle and by key, at 1k, 100k and 1M peers, in
// random order (a real server sees beats in no useful order), with the time
// passed in (the watcher reads the clock once per read completion, not per
// touch); expire() when nothing, 1% and all of the peers are due; decoding
// a BEAT; the clock read itself; and the textbook baseline (a
// std::unordered_map<key, time_point> updated in place) at the same sizes.
// Memory per tracked peer is measured with a counting operator new and with
// glibc's own accounting (mallinfo2), reported as counters.
#include <heartbeat/core.hpp>
#include <heartbeat/wire/decoder.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <numeric>
#include <random>
#include <unordered_map>
#include <vector>

#include <malloc.h>

// ---- allocation accounting --------------------------------------------------

namespace {
std::atomic<long long> live_bytes{0};
}

void* operator new(std::size_t n)
{
    // A size header keeps delete honest without malloc_usable_size.
    auto* p = static_cast<std::size_t*>(std::malloc(n + sizeof(std::max_align_t)));
    if (!p)
        throw std::bad_alloc();
    *p = n;
    live_bytes.fetch_add(static_cast<long long>(n), std::memory_order_relaxed);
    return reinterpret_cast<char*>(p) + sizeof(std::max_align_t);
}
void operator delete(void* p) noexcept
{
    if (!p)
        return;
    auto* base = reinterpret_cast<std::size_t*>(static_cast<char*>(p) - sizeof(std::max_align_t));
    live_bytes.fetch_sub(static_cast<long long>(*base), std::memory_order_relaxed);
    std::free(base);
}
void operator delete(void* p, std::size_t) noexcept { operator delete(p); }
// Over-aligned types (the registry's 64-byte slots) come through these.
void* operator new(std::size_t n, std::align_val_t al)
{
    const auto align = static_cast<std::size_t>(al);
    const std::size_t total = (n + 2 * align - 1) / align * align; // header + n, rounded up
    auto* base = static_cast<char*>(std::aligned_alloc(align, total));
    if (!base)
        throw std::bad_alloc();
    *reinterpret_cast<std::size_t*>(base) = n;
    live_bytes.fetch_add(static_cast<long long>(n), std::memory_order_relaxed);
    return base + align;
}
void operator delete(void* p, std::align_val_t al) noexcept
{
    if (!p)
        return;
    char* base = static_cast<char*>(p) - static_cast<std::size_t>(al);
    live_bytes.fetch_sub(static_cast<long long>(*reinterpret_cast<std::size_t*>(base)),
                         std::memory_order_relaxed);
    std::free(base);
}
void operator delete(void* p, std::size_t, std::align_val_t al) noexcept { operator delete(p, al); }
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete[](void* p) noexcept { operator delete(p); }
void operator delete[](void* p, std::size_t) noexcept { operator delete(p); }

namespace {

using clock_type = std::chrono::steady_clock;
using time_point = clock_type::time_point;
using registry_type = heartbeat::registry<std::uint64_t>;
using namespace std::chrono_literals;

/// Keys that do not hash into a tidy sequence (ids from a real system are
/// arbitrary 64-bit values).
std::vector<std::uint64_t> make_keys(std::size_t n)
{
    std::mt19937_64 rng(42);
    std::vector<std::uint64_t> keys(n);
    for (auto& k : keys)
        k = rng();
    return keys;
}

/// Index order in which the benchmark touches peers: a fixed shuffle.
std::vector<std::uint32_t> random_order(std::size_t n)
{
    std::vector<std::uint32_t> order(n);
    std::iota(order.begin(), order.end(), 0u);
    std::shuffle(order.begin(), order.end(), std::mt19937(7));
    return order;
}

registry_type::options bench_options()
{
    registry_type::options o;
    o.detection.interval = 1s;
    o.detection.misses = 3;
    o.max_peers = 0; // unlimited
    return o;
}

const time_point t0 = time_point{} + 1h;

struct populated {
    explicit populated(std::size_t n) : keys(make_keys(n)), order(random_order(n)), reg(bench_options())
    {
        reg.reserve(n);
        handles.reserve(n);
        for (std::size_t i = 0; i < n; ++i)
            handles.push_back(reg.touch(keys[i], t0 + std::chrono::microseconds(i)));
    }
    std::vector<std::uint64_t> keys;
    std::vector<std::uint32_t> order;
    registry_type reg;
    std::vector<heartbeat::peer_handle> handles;
};

// ---- touch ------------------------------------------------------------------

void touch_by_handle(benchmark::State& state)
{
    const auto n = static_cast<std::size_t>(state.range(0));
    populated p(n);
    time_point now = t0 + 1s;
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(p.reg.touch(p.handles[p.order[i]], now));
        if (++i == n) {
            i = 0;
            now += 1ms;
        }
    }
    state.SetItemsProcessed(state.iterations());
}

void touch_by_key(benchmark::State& state)
{
    const auto n = static_cast<std::size_t>(state.range(0));
    populated p(n);
    time_point now = t0 + 1s;
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(p.reg.touch(p.keys[p.order[i]], now));
        if (++i == n) {
            i = 0;
            now += 1ms;
        }
    }
    state.SetItemsProcessed(state.iterations());
}

// The textbook: a map of last-seen times, updated in place.
void baseline_map_update(benchmark::State& state)
{
    const auto n = static_cast<std::size_t>(state.range(0));
    const auto keys = make_keys(n);
    const auto order = random_order(n);
    std::unordered_map<std::uint64_t, time_point> last_seen;
    last_seen.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        last_seen[keys[i]] = t0;
    time_point now = t0 + 1s;
    std::size_t i = 0;
    for (auto _ : state) {
        last_seen[keys[order[i]]] = now;
        benchmark::ClobberMemory();
        if (++i == n) {
            i = 0;
            now += 1ms;
        }
    }
    state.SetItemsProcessed(state.iterations());
}

// ---- expire -----------------------------------------------------------------

void expire_nothing_due(benchmark::State& state)
{
    const auto n = static_cast<std::size_t>(state.range(0));
    populated p(n);
    const time_point now = t0 + 1s; // every deadline is >= t0 + 3s
    for (auto _ : state)
        benchmark::DoNotOptimize(p.reg.expire(now));
    state.SetItemsProcessed(state.iterations());
}

// Peers last seen spread evenly over one second; `expire` at a time when
// `per_mille` of them are due. Items are expired peers.
void expire_some_due(benchmark::State& state, std::size_t per_mille)
{
    const auto n = static_cast<std::size_t>(state.range(0));
    const auto keys = make_keys(n);
    const auto spread = 1'000'000'000ns / static_cast<long long>(n);
    const std::size_t due = std::max<std::size_t>(1, n * per_mille / 1000);
    std::size_t expired = 0;
    for (auto _ : state) {
        state.PauseTiming();
        auto reg = std::make_unique<registry_type>(bench_options());
        reg->reserve(n);
        for (std::size_t i = 0; i < n; ++i)
            reg->touch(keys[i], t0 + spread * static_cast<long long>(i));
        // Deadline of peer i: t0 + i*spread + 3s (+1 tick): the first `due`
        // peers are due at this instant.
        const time_point now = t0 + 3s + spread * static_cast<long long>(due - 1) + 1ns;
        state.ResumeTiming();
        reg->expire(now);
        state.PauseTiming();
        expired += n - reg->online_count();
        reg.reset();
        state.ResumeTiming();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(expired));
    state.counters["ns_per_expired_peer"] = benchmark::Counter(
        static_cast<double>(expired), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void expire_1pct_due(benchmark::State& state) { expire_some_due(state, 10); }
void expire_all_due(benchmark::State& state) { expire_some_due(state, 1000); }

// ---- memory -------------------------------------------------------------------

// Bytes glibc's allocator has handed out: small chunks (uordblks) plus
// large ones served by mmap (hblkhd), headers and rounding included.
long long malloc_in_use()
{
    const auto m = mallinfo2();
    return static_cast<long long>(m.uordblks + m.hblkhd);
}

template <class Build>
void memory_per_peer(benchmark::State& state, Build build)
{
    const auto n = static_cast<std::size_t>(state.range(0));
    const auto keys = make_keys(n);
    double counted = 0, glibc = 0;
    for (auto _ : state) {
        const long long before = live_bytes.load();
        const auto glibc_before = malloc_in_use();
        auto holder = build(keys);
        counted = static_cast<double>(live_bytes.load() - before) / static_cast<double>(n);
        glibc = static_cast<double>(malloc_in_use() - glibc_before) / static_cast<double>(n);
        benchmark::DoNotOptimize(holder);
    }
    state.counters["bytes_per_peer"] = counted;
    state.counters["malloc_bytes_per_peer"] = glibc;
}

void registry_memory(benchmark::State& state)
{
    // Grown one peer at a time (as a server does), not reserved.
    memory_per_peer(state, [](const std::vector<std::uint64_t>& keys) {
        auto reg = std::make_unique<registry_type>(bench_options());
        for (std::size_t i = 0; i < keys.size(); ++i)
            reg->touch(keys[i], t0 + std::chrono::microseconds(i));
        return reg;
    });
}

void baseline_map_memory(benchmark::State& state)
{
    memory_per_peer(state, [](const std::vector<std::uint64_t>& keys) {
        auto m = std::make_unique<std::unordered_map<std::uint64_t, time_point>>();
        for (auto k : keys)
            (*m)[k] = t0;
        return m;
    });
}

// ---- wire and clock -------------------------------------------------------------

void decode_beat(benchmark::State& state)
{
    heartbeat::wire::decoder d;
    const auto frame = heartbeat::wire::encode_beat(12345);
    std::uint32_t seq = 0;
    for (auto _ : state) {
        d.feed(frame.data(), frame.size(), [&](const heartbeat::wire::frame_view& f) {
            heartbeat::wire::parse_sequence(f, seq);
        });
        benchmark::DoNotOptimize(seq);
    }
    state.SetItemsProcessed(state.iterations());
}

void clock_read(benchmark::State& state)
{
    for (auto _ : state)
        benchmark::DoNotOptimize(clock_type::now());
    state.SetItemsProcessed(state.iterations());
}

void sizes(benchmark::internal::Benchmark* b) { b->Arg(1'000)->Arg(100'000)->Arg(1'000'000); }

} // namespace

BENCHMARK(clock_read);
BENCHMARK(decode_beat);
BENCHMARK(touch_by_handle)->Apply(sizes);
BENCHMARK(touch_by_key)->Apply(sizes);
BENCHMARK(baseline_map_update)->Apply(sizes);
BENCHMARK(expire_nothing_due)->Apply(sizes);
BENCHMARK(expire_1pct_due)->Apply(sizes)->Unit(benchmark::kMicrosecond);
BENCHMARK(expire_all_due)->Apply(sizes)->Unit(benchmark::kMicrosecond);
BENCHMARK(registry_memory)->Apply(sizes)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(baseline_map_memory)->Apply(sizes)->Iterations(1)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
