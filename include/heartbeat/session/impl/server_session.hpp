// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_SESSION_IMPL_SERVER_SESSION_HPP
#define HEARTBEAT_SESSION_IMPL_SERVER_SESSION_HPP

// The longer steps of server_session, out of line so its header reads as the
// machine's interface: inputs, actions, options.

#include <heartbeat/session/server_session.hpp>

namespace heartbeat {

template <class Clock>
void server_session<Clock>::handshake_done(time_point now, bool ok)
{
    now_ = now;
    if (phase_ != phase::handshake)
        return;
    if (!ok)
        return end_now(error::handshake_failed, offline_reason::disconnected);
    phase_ = phase::hello;
}

template <class Clock>
void server_session<Clock>::timer_fired(time_point now)
{
    now_ = now;
    // A transport still in its handshake cannot carry an ERROR frame.
    if (phase_ == phase::handshake && now >= deadline_)
        return end_now(error::hello_timeout, offline_reason::disconnected);
    if (awaiting_hello() && now >= deadline_)
        return fail(error::hello_timeout);
    if (phase_ == phase::closing && now >= deadline_)
        return end_now(std::nullopt, offline_reason::disconnected);
    if (phase_ == phase::online && probing() && now >= deadline_) {
        push(kind::probe);
        deadline_ = now + opts_->probe_interval; // the next probe
        push_wait();
    }
}

template <class Clock>
void server_session<Clock>::probe_answered(time_point now)
{
    now_ = now;
    if (phase_ == phase::online)
        push_touch();
}

template <class Clock>
void server_session<Clock>::authenticated(std::optional<error> verdict, time_point now)
{
    now_ = now;
    if (phase_ != phase::authenticating)
        return;
    if (verdict)
        return fail(*verdict == error::bad_id ? error::bad_id : error::auth_failed);
    phase_ = phase::admitting;
    push(kind::admit);
}

template <class Clock>
void server_session<Clock>::admitted(const admission& r, time_point now)
{
    now_ = now;
    if (phase_ != phase::admitting)
        return;
    if (r.result == admission::outcome::taken)
        return fail(error::duplicate_id);
    if (r.result == admission::outcome::full)
        return fail(error::server_full);
    registered_ = true;
    phase_ = phase::online;
    if (probing()) {
        deadline_ = now + opts_->probe_interval; // the first probe
        push_wait();
    }
    else {
        push_timer(true);
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(r.held).count();
    wire::welcome w;
    w.misses = static_cast<std::uint8_t>(std::min(opts_->misses, 255u));
    w.interval_ms = static_cast<std::uint32_t>(std::clamp<long long>(ms, 1, 0xFFFF'FFFFLL));
    frame_size_ = static_cast<std::uint8_t>(wire::encode_welcome(frame_.data(), w));
    push_write(false);
}

template <class Clock>
void server_session<Clock>::timed_out(time_point now)
{
    now_ = now;
    if (phase_ != phase::online || !opts_->close_on_timeout)
        return;
    // The registry already said offline(timeout): forget the record and
    // close without a goodbye (the peer is not reading).
    end_now(std::nullopt, offline_reason::timeout);
}

template <class Clock>
void server_session<Clock>::replaced(time_point now)
{
    now_ = now;
    if (phase_ != phase::online)
        return;
    release(offline_reason::replaced);
    frame_size_ = encode_goodbye(wire::goodbye_reason::replaced);
    close_after(error::replaced, false);
}

template <class Clock>
void server_session<Clock>::shutdown(time_point now)
{
    now_ = now;
    if (phase_ == phase::closed)
        return;
    if (phase_ != phase::online)
        return end_now(error::shutting_down, offline_reason::shutdown);
    release(offline_reason::shutdown);
    frame_size_ = encode_goodbye(wire::goodbye_reason::shutting_down);
    close_after(error::shutting_down, false);
}

template <class Clock>
bool server_session<Clock>::accept_send(std::size_t frame_size, std::size_t queued, time_point now)
{
    now_ = now;
    if (phase_ != phase::online)
        return false;
    if (queued + frame_size > opts_->max_send_queue) {
        // A peer that cannot keep up is closed rather than buffered
        // without bound.
        fail(error::send_queue_full);
        return false;
    }
    return true;
}

template <class Clock>
typename server_session<Clock>::action
server_session<Clock>::next()
{
    for (;;) {
        if (pending_ != 0) {
            const unsigned rank = lowest_bit(pending_);
            pending_ = static_cast<std::uint16_t>(pending_ & (pending_ - 1));
            return take(hand_out_order[rank]);
        }
        if (phase_ == phase::closed)
            return action{};
        if (waiting_for_verdict())
            return action{}; // the rest of the input waits with us
        if (in_.has_bytes()) {
            if (phase_ == phase::closing) {
                in_.discard(); // lingering: read and discard until EOF
                continue;
            }
            wire::frame_view f{};
            switch (decoder_.next(in_.cursor(), in_.end(), f)) {
            case wire::decoder::step::frame:
                ++frames_;
                on_frame(f);
                continue;
            case wire::decoder::step::failed:
                in_.discard();
                fail(to_error(decoder_.status()));
                continue;
            case wire::decoder::step::need_more: break;
            }
        }
        in_.take_end_of_feed();
        if (in_.take_eof()) {
            transport_ended();
            continue;
        }
        if (!in_.take_read_request())
            return action{};
        action a;
        a.type = kind::read;
        return a;
    }
}

template <class Clock>
void server_session<Clock>::on_frame(const wire::frame_view& f)
{
    if (phase_ != phase::hello && phase_ != phase::online)
        return;
    if (opts_->max_frame_rate != 0 && (tokens_ -= 1.0) < 0.0)
        return fail(error::rate_limited);
    if (phase_ == phase::hello) {
        if (f.type != wire::frame_type::hello)
            return fail(error::protocol_error);
        wire::hello h;
        const auto st = wire::parse_hello(f, h);
        if (st != wire::decode_status::ok)
            return fail(to_error(st));
        return on_hello(h);
    }
    switch (f.type) {
    case wire::frame_type::beat: return on_beat(f);
    case wire::frame_type::data: {
        payload_ = f.payload;
        payload_size_ = f.size;
        return push(kind::deliver);
    }
    case wire::frame_type::goodbye: return end_now(std::nullopt, offline_reason::left);
    default: return fail(error::protocol_error);
    }
}

template <class Clock>
void server_session<Clock>::on_hello(const wire::hello& h)
{
    if (h.id.empty() || h.id.size() > wire::max_id_size)
        return fail(error::bad_id);
    id_ = h.id;
    credential_ = h.credential;
    announced_ = std::chrono::duration_cast<duration>(std::chrono::milliseconds(h.interval_ms));
    phase_ = phase::authenticating;
    push(kind::authenticate);
}

template <class Clock>
void server_session<Clock>::on_beat(const wire::frame_view& f)
{
    std::uint32_t seq = 0;
    if (wire::parse_sequence(f, seq) != wire::decode_status::ok)
        return fail(error::protocol_error);
    // A peer that beats but never reads would grow its echo queue
    // without bound: it is held to the send queue limit.
    const auto echo = wire::encode_echo(seq);
    if (queued_ + echo.size() > opts_->max_send_queue)
        return fail(error::send_queue_full);
    std::copy(echo.begin(), echo.end(), frame_.begin());
    frame_size_ = static_cast<std::uint8_t>(echo.size());
    queued_ += echo.size();
    push_write(true);
    if (opts_->rtt_sample_interval != duration::zero()
        && (!sampled_once_ || now_ - rtt_sampled_ >= opts_->rtt_sample_interval)) {
        sampled_once_ = true;
        rtt_sampled_ = now_;
        push(kind::sample_rtt);
    }
}

template <class Clock>
void server_session<Clock>::close_after(error cause, bool shared_error)
{
    phase_ = phase::closing;
    deadline_ = now_ + opts_->close_timeout;
    push_wait();
    last_cause_ = cause_byte(cause);
    last_is_error_ = shared_error;
    push(kind::close_after);
}

template <class Clock>
void server_session<Clock>::end_now(std::optional<error> cause, offline_reason reason)
{
    if (phase_ == phase::closed)
        return;
    release(reason);
    phase_ = phase::closed;
    close_cause_ = cause_byte(cause);
    push(kind::close);
}

template <class Clock>
void server_session<Clock>::release(offline_reason reason)
{
    if (!registered_)
        return;
    registered_ = false;
    release_reason_ = reason;
    push(kind::release);
}

template <class Clock>
void server_session<Clock>::refill_tokens(time_point now) noexcept
{
    if (opts_->max_frame_rate == 0)
        return;
    const double burst = static_cast<double>(opts_->max_frame_burst);
    if (!refilled_once_) {
        refilled_once_ = true;
        tokens_ = burst;
    }
    else {
        const double elapsed = std::chrono::duration<double>(now - refilled_).count();
        tokens_ = std::min(burst, tokens_ + elapsed * static_cast<double>(opts_->max_frame_rate));
    }
    refilled_ = now;
}

template <class Clock>
typename server_session<Clock>::action server_session<Clock>::take(kind k) const noexcept
{
    action a;
    a.type = k;
    switch (k) {
    case kind::touch: a.at = now_; break;
    case kind::authenticate:
        a.id = id_;
        a.credential = credential_;
        a.interval = announced_;
        break;
    case kind::admit:
        a.id = id_;
        a.interval = announced_ > duration::zero() ? announced_ : opts_->default_interval;
        a.replace = opts_->on_duplicate == duplicate_policy::replace;
        a.at = now_;
        break;
    case kind::release: a.reason = release_reason_; break;
    case kind::wait_until:
        if (timer_cancel_)
            a.type = kind::cancel_timer;
        else
            a.at = deadline_;
        break;
    case kind::write:
        a.urgent = write_urgent_;
        a.data = frame_.data();
        a.size = frame_size_;
        break;
    case kind::deliver:
        a.data = payload_;
        a.size = payload_size_;
        break;
    case kind::close_after:
        if (last_cause_ != 0)
            a.cause = static_cast<error>(last_cause_);
        if (last_is_error_) {
            const auto& frame = detail::error_frame(static_cast<error>(last_cause_));
            a.data = frame.data();
            a.size = frame.size();
        }
        else {
            a.data = frame_.data();
            a.size = frame_size_;
        }
        break;
    case kind::close:
        if (close_cause_ != 0)
            a.cause = static_cast<error>(close_cause_);
        break;
    default: break;
    }
    return a;
}

} // namespace heartbeat

#endif
