// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_REDIS_DETAIL_HIREDIS_ASIO_HPP
#define HEARTBEAT_REDIS_DETAIL_HIREDIS_ASIO_HPP

// Drives a hiredis async context from an Asio executor: hiredis says when
// it wants to read or write its socket (the ev hooks), we wait for that
// readiness on a stream_descriptor over the same fd and call hiredis back.
// No thread, no poll loop of our own. Every hiredis call happens on the
// executor given, which must be a strand (or a one-thread io_context).

#include <heartbeat/detail/config.hpp>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <memory>

namespace heartbeat::redis::detail {

template <class Executor>
class hiredis_events : public std::enable_shared_from_this<hiredis_events<Executor>> {
public:
    /// Hooks `ac` to `ex`. The attachment lives until hiredis frees the
    /// context (its cleanup hook), which also hands the fd back to hiredis
    /// to close.
    static void attach(redisAsyncContext* ac, const Executor& ex)
    {
        auto self = std::make_shared<hiredis_events>(ac, ex);
        self->self_ = self;
        ac->ev.data = self.get();
        ac->ev.addRead = &add_read;
        ac->ev.delRead = &del_read;
        ac->ev.addWrite = &add_write;
        ac->ev.delWrite = &del_write;
        ac->ev.cleanup = &cleanup;
    }

    hiredis_events(redisAsyncContext* ac, const Executor& ex) : ac_(ac), fd_(ex, ac->c.fd) {}

    ~hiredis_events()
    {
        // hiredis owns the fd and closes it.
        if (fd_.is_open())
            fd_.release();
    }

private:
    using descriptor = net::posix::basic_stream_descriptor<Executor>;

    static hiredis_events& self(void* p) { return *static_cast<hiredis_events*>(p); }

    static void add_read(void* p) { self(p).want(true, true); }
    static void del_read(void* p) { self(p).read_.wanted = false; }
    static void add_write(void* p) { self(p).want(false, true); }
    static void del_write(void* p) { self(p).write_.wanted = false; }

    static void cleanup(void* p)
    {
        auto& e = self(p);
        e.ac_ = nullptr;
        e.read_.wanted = e.write_.wanted = false;
        if (e.fd_.is_open())
            e.fd_.release(); // cancels our waits; hiredis closes the fd
        e.self_.reset();     // pending waits still hold us until they finish
    }

    struct direction {
        bool wanted = false;
        bool waiting = false;
        bool blocked = false; // write: the last attempt left data unsent
    };

    direction& dir(bool read) { return read ? read_ : write_; }

    void want(bool read, bool on)
    {
        dir(read).wanted = on;
        arm(read);
    }

    // One operation per direction at a time; one that completes after
    // hiredis lost interest is dropped, and the next add_* arms a fresh one.
    //
    // Writes are tried at once (posted, so hiredis is never re-entered, and
    // commands issued together leave in one send): a connected socket is
    // almost always writable, and waiting for readiness first costs a trip
    // through the reactor per command (with an edge-triggered epoll, until
    // some other event on the socket). Only when a try leaves data unsent
    // (or the connect is still in progress) do we wait for writability.
    void arm(bool read)
    {
        auto& d = dir(read);
        if (d.waiting || !d.wanted || !ac_)
            return;
        d.waiting = true;
        auto ready = [self = this->shared_from_this(), read](const error_code& ec) {
            auto& state = self->dir(read);
            state.waiting = false;
            if (ec || !self->ac_ || !state.wanted)
                return;
            if (read) {
                redisAsyncHandleRead(self->ac_);
            } else {
                redisAsyncHandleWrite(self->ac_);
                self->write_.blocked = self->ac_ && self->write_.wanted;
            }
            self->arm(read); // a no-op if hiredis freed the context meanwhile
        };
        if (!read && !d.blocked)
            net::post(fd_.get_executor(), [ready = std::move(ready)]() mutable { ready(error_code()); });
        else
            fd_.async_wait(read ? descriptor::wait_read : descriptor::wait_write, std::move(ready));
    }

    redisAsyncContext* ac_;
    descriptor fd_;
    direction read_;
    direction write_;
    std::shared_ptr<hiredis_events> self_;
};

} // namespace heartbeat::redis::detail

#endif
