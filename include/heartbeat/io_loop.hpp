// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_IO_LOOP_HPP
#define HEARTBEAT_IO_LOOP_HPP

#include <heartbeat/detail/config.hpp>

#include <chrono>
#include <cstddef>
#include <thread>

namespace heartbeat {

/// How `run_batched` paces an io_context.
struct batching_options {
    /// The least time from one wake-up to the next. Readiness that comes
    /// meanwhile waits, so each wake-up carries out many completions: a
    /// server of thousands of peers then pays the kernel's cost of waking
    /// (epoll_wait, the context switch) once per period instead of once per
    /// beat. Every completion and timer, the sweeper's included, may run up
    /// to this much later: detection latency grows by at most the period
    /// (plus the work of one burst). Zero: `io_context::run()`.
    std::chrono::microseconds period = std::chrono::milliseconds(2);
};

/// Runs `io` as `io.run()` does, until it is stopped or runs out of work,
/// but in bursts: it waits for something to do, does everything that is
/// ready, then sleeps out the rest of `opts.period` before it looks again.
/// For a thread that runs nothing else. It batches what one thread runs:
/// called from several threads, one sleeps while another takes what became
/// ready, so it is meant for a context run by one thread (or one per
/// shard). Returns the number of handlers run.
inline std::size_t run_batched(net::io_context& io, const batching_options& opts = {})
{
    if (opts.period <= std::chrono::microseconds::zero())
        return io.run();
    std::size_t handlers = 0;
    for (;;) {
        const std::size_t one = io.run_one(); // blocks until something is ready
        if (one == 0)
            return handlers; // stopped, or out of work
        const auto woke = std::chrono::steady_clock::now();
        handlers += one + io.poll();
        if (io.stopped())
            return handlers;
        const auto busy = std::chrono::steady_clock::now() - woke;
        if (busy < opts.period)
            std::this_thread::sleep_for(opts.period - busy);
    }
}

} // namespace heartbeat

#endif
