// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_IMPL_WATCHER_TRANSPORT_HPP
#define HEARTBEAT_IMPL_WATCHER_TRANSPORT_HPP

// The watcher's transport side: accepting (with the handshake bound),
// starting a session, the transport's handshake, reads, the session's
// timer, writes and the close. impl/watcher.hpp has the rest: the action
// loop, the registry, the authenticator, refusals and stopping.

#include <heartbeat/impl/watcher.hpp>

namespace heartbeat {

template <class Stream, class Key, class Policy>
void watcher<Stream, Key, Policy>::impl::start_session(Stream stream, bool run_handshake)
{
    if (stopped) {
        detail::close_stream(stream);
        return;
    }
    detail::disable_nagle(stream);
    if constexpr (detail::is_stream_socket<Stream>::value) {
        // Writes go out at once when the socket takes them (flush), reads
        // happen on readiness (read_ready): neither may block.
        error_code ignored;
        stream.non_blocking(true, ignored);
    }
    auto s = std::make_shared<session>(std::move(stream), this->shared_from_this());
    sessions.insert(s);
    ++session_count;
    s->machine.start(clock_type::now(), run_handshake);
    if (!run_handshake)
        take_transport_identity(s);
    run(s);
}

template <class Stream, class Key, class Policy>
void watcher<Stream, Key, Policy>::impl::take_transport_identity(const session_ptr& s)
{
    // The transport's own statement of who the peer is stands for its HELLO.
    if constexpr (detail::has_transport_identity<Stream>::value) {
        if (const auto hello = s->stream.transport_identity())
            s->machine.identify(*hello, clock_type::now());
    }
}

template <class Stream, class Key, class Policy>
void watcher<Stream, Key, Policy>::impl::probe(const session_ptr& s)
{
    if constexpr (detail::has_async_probe<Stream>::value) {
        // Weak: the stream keeps the handler until a pong comes, and the
        // session keeps the stream; a strong hold would be a cycle.
        s->stream.async_probe(net::bind_executor(
            strand, [weak = std::weak_ptr<session>(s)](const error_code& ec,
                                                       std::optional<std::chrono::microseconds> rtt) {
                auto live = weak.lock();
                if (!live)
                    return;
                auto o = live->owner.lock();
                if (ec || !o || live->machine.closed())
                    return;
                live->machine.probe_answered(clock_type::now(), rtt);
                o->run(live);
            }));
    }
    else {
        (void)s; // a transport without probes of its own: probe_interval stays zero for it
    }
}

template <class Stream, class Key, class Policy>
void watcher<Stream, Key, Policy>::impl::handshake(const session_ptr& s)
{
    if constexpr (detail::has_server_handshake<Stream>::value) {
        s->handshaking = true;
        accepting.handshake_started();
        s->stream.async_handshake(Stream::server,
                                  net::bind_executor(strand, [s](const error_code& ec) {
                                      if (auto o = s->owner.lock())
                                          o->on_handshake(s, ec);
                                  }));
    }
    else {
        // adopt(..., pending) of a stream without a handshake: nothing to run.
        s->machine.handshake_done(clock_type::now(), true);
    }
}

template <class Stream, class Key, class Policy>
void watcher<Stream, Key, Policy>::impl::on_handshake(const session_ptr& s, const error_code& ec)
{
    handshake_ended(s);
    if (s->machine.closed())
        return;
    // The transport's reason says more than handshake_failed. A peer that
    // only connected and closed (a health check, a port scan, a client
    // that gave up in the backlog) refused nothing and is not reported.
    if (ec && !detail::is_plain_close(ec))
        report_refusal(s, ec);
    s->machine.handshake_done(clock_type::now(), !ec);
    if (!ec)
        take_transport_identity(s);
    run(s);
}

template <class Stream, class Key, class Policy>
void watcher<Stream, Key, Policy>::impl::handshake_ended(const session_ptr& s)
{
    if (!s->handshaking)
        return;
    s->handshaking = false;
    accepting.handshake_ended();
}

template <class Stream, class Key, class Policy>
void watcher<Stream, Key, Policy>::impl::read(const session_ptr& s)
{
    if constexpr (reads_on_readiness) {
        // The machine asks for more only once it has consumed what it was
        // fed: bytes it held across an authenticator's wait can go.
        if (!s->read_buffer.empty())
            std::vector<std::uint8_t>().swap(s->read_buffer);
        if (s->in_read_loop) {
            s->wants_read = true; // read_ready() reads on
            return;
        }
        // Bytes may wait whose readiness was reported before this read was
        // asked for (a HELLO's tail while the authenticator ran): look
        // before waiting, once the caller's action loop is done.
        net::post(strand, [s] {
            if (auto o = s->owner.lock())
                o->read_ready(s, {});
        });
        return;
    }
    s->stream.async_read_some(net::buffer(s->read_buffer),
                              net::bind_executor(strand, [s](const error_code& ec, std::size_t n) {
                                  if (auto o = s->owner.lock())
                                      o->on_read(s, ec, n);
                              }));
}

template <class Stream, class Key, class Policy>
void watcher<Stream, Key, Policy>::impl::on_read(const session_ptr& s, const error_code& ec, std::size_t n)
{
    if (s->machine.closed())
        return;
    const auto before = s->machine.frames_decoded();
    s->machine.feed(s->read_buffer.data(), n, clock_type::now(), s->out.bytes(), static_cast<bool>(ec));
    run(s);
    frames_in.fetch_add(s->machine.frames_decoded() - before, std::memory_order_relaxed);
}

// A stream socket is readable (or `ec` says why not): reads it into the
// watcher's one buffer until a short read, feeding the machine after each,
// then waits for readiness again. A short read drained the socket; the
// wait cannot miss bytes that come after it, because the reactor checks
// readiness afresh when a wait starts (Asio's epoll reactor re-arms the
// descriptor with EPOLL_CTL_MOD, its kqueue reactor with EV_ADD). That
// system call is what Asio's own reads spend on finding the socket empty
// (a second recv per completion), so the two cost the same calls; what
// this saves is a read buffer per session, and an asynchronous read
// operation per beat.
template <class Stream, class Key, class Policy>
void watcher<Stream, Key, Policy>::impl::read_ready(const session_ptr& s, const error_code& ec)
{
    if constexpr (reads_on_readiness) {
        if (s->machine.closed())
            return;
        if (ec) {
            s->machine.feed(nullptr, 0, clock_type::now(), s->out.bytes(), true);
            run(s);
            return;
        }
        s->in_read_loop = true;
        // At most this many full reads per wake-up, so that a peer that
        // sends faster than it is served cannot keep the others (and the
        // timers) waiting: after them the session queues up behind them.
        constexpr int max_reads = 4;
        bool yielded = false;
        for (int reads = 1;; ++reads) {
            s->wants_read = false;
            error_code rec;
            const std::size_t n = s->stream.read_some(net::buffer(read_buffer), rec);
            if (rec == net::error::would_block) {
                s->wants_read = true;
                break;
            }
            const auto before = s->machine.frames_decoded();
            s->machine.feed(read_buffer.data(), n, clock_type::now(), s->out.bytes(), static_cast<bool>(rec));
            run(s);
            frames_in.fetch_add(s->machine.frames_decoded() - before, std::memory_order_relaxed);
            if (rec || s->machine.closed())
                break;
            if (!s->wants_read) {
                // The machine still points into these bytes (it waits for
                // its authenticator with the HELLO's id, and what came
                // after it): they must outlive the next session's read into
                // the shared buffer.
                s->read_buffer.assign(read_buffer.data(), read_buffer.data() + n);
                s->machine.input_moved(read_buffer.data(), n, s->read_buffer.data());
                break;
            }
            if (n < read_buffer.size())
                break;
            if (reads == max_reads) {
                yielded = true;
                break;
            }
        }
        s->in_read_loop = false;
        if (!s->wants_read || s->machine.closed())
            return;
        if (yielded) { // more may wait: look again after what is queued
            net::post(strand, [s] {
                if (auto o = s->owner.lock())
                    o->read_ready(s, {});
            });
            return;
        }
        auto readable = [s](const error_code& wec) {
            if (auto o = s->owner.lock())
                o->read_ready(s, wec);
        };
        // With one thread nothing runs beside this handler: the strand's
        // dispatch (a lock, a queue, an executor hop per beat) buys nothing.
        if (opts.single_threaded)
            s->stream.async_wait(net::socket_base::wait_read, std::move(readable));
        else
            s->stream.async_wait(net::socket_base::wait_read, net::bind_executor(strand, std::move(readable)));
    }
    else {
        (void)s;
        (void)ec;
    }
}

template <class Stream, class Key, class Policy>
void watcher<Stream, Key, Policy>::impl::arm(const session_ptr& s, time_point at)
{
    if (!s->timer)
        s->timer = std::make_unique<typename session::timer_type>(strand);
    s->timer->expires_at(at);
    s->timer->async_wait([s](const error_code& ec) {
        if (ec)
            return;
        if (auto o = s->owner.lock()) {
            s->machine.timer_fired(clock_type::now());
            o->run(s);
        }
        else {
            detail::close_stream(s->stream);
        }
    });
}

template <class Stream, class Key, class Policy>
void watcher<Stream, Key, Policy>::impl::flush(const session_ptr& s)
{
    // A loop, not a recursion through written(): a long queue the socket
    // takes at once is many writes in a row.
    while (s->stream_open && s->out.ready()) {
        const auto now =
            s->out.start_now(s->stream, net::bind_executor(strand, [s](const error_code& ec, std::size_t) {
                const auto next = s->out.completed(ec);
                if (auto o = s->owner.lock())
                    o->written(s, next);
            }));
        if (!now)
            return; // the rest is being written asynchronously
        if (*now != detail::outbox::outcome::more) {
            written(s, *now);
            return;
        }
    }
}

template <class Stream, class Key, class Policy>
void watcher<Stream, Key, Policy>::impl::written(const session_ptr& s, detail::outbox::outcome next)
{
    if (!s->stream_open)
        return;
    if (next == detail::outbox::outcome::last_frame_out)
        detail::close_send(s->stream, net::bind_executor(strand, [s](error_code) {}));
    if (next == detail::outbox::outcome::failed) {
        s->machine.write_failed(clock_type::now());
        run(s);
    }
    else if (next == detail::outbox::outcome::more) {
        flush(s);
    }
}

template <class Stream, class Key, class Policy>
send_result watcher<Stream, Key, Policy>::impl::enqueue(const session_ptr& s, const detail::shared_bytes& frame)
{
    const auto verdict =
        s->machine.accept_send(frame->size() - wire::header_size, frame->size(), s->out.bytes(), clock_type::now());
    const send_result r{verdict, s->out.bytes() + (verdict == send_verdict::queued ? frame->size() : 0)};
    if (verdict == send_verdict::overflow)
        run(s); // a peer that cannot keep up is being closed
    if (verdict != send_verdict::queued)
        return r;
    s->out.queue().push(frame);
    flush(s);
    return r;
}

template <class Stream, class Key, class Policy>
void watcher<Stream, Key, Policy>::impl::close_now(const session_ptr& s)
{
    if (!s->stream_open)
        return;
    const auto keep = s; // `s` may be the set's own element
    keep->stream_open = false;
    // Count it gone before the peer can see the close.
    if (sessions.erase(keep) != 0)
        --session_count;
    keep->timer.reset();
    detail::close_stream(keep->stream);
    keep->out.abandon();
    handshake_ended(keep); // a handshake cut off by its deadline
}

template <class Stream, class Key, class Policy>
template <class Acceptor, class Make, class SocketExecutor>
void watcher<Stream, Key, Policy>::impl::accept_from(const std::shared_ptr<impl>& self, Acceptor* a, Make make,
                                                     const SocketExecutor& sockets)
{
    if (self->stopped)
        return;
    auto l = std::make_shared<listener<Acceptor, Make, SocketExecutor>>(a, std::move(make), sockets, self->strand);
    self->accepting.add_loop([l] {
        error_code ignored;
        l->acceptor->cancel(ignored);
        l->retry.cancel();
    });
    accept_next(self, l);
}

template <class Stream, class Key, class Policy>
template <class Listener>
void watcher<Stream, Key, Policy>::impl::accept_next(const std::shared_ptr<impl>& self, const std::shared_ptr<Listener>& l)
{
    detail::accept_loop(
        *l->acceptor, l->socket_executor, self->strand, l->retry, self->opts.accept_retry_pause,
        [self, l](auto socket) {
            self->start_session(l->make(std::move(socket)), detail::has_server_handshake<Stream>::value);
        },
        [self] { return !self->stopped; },
        [self, l] {
            // Weak: a parked loop must not keep the watcher alive.
            return self->accepting.admit_or_park([weak = std::weak_ptr<impl>(self), l] {
                if (auto o = weak.lock())
                    accept_next(o, l);
            });
        });
}

} // namespace heartbeat

#endif
