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
        if (peer_answers_probes_)
            return probe_due();
        push(kind::probe);
        deadline_ = now + opts_->probe_interval; // the next probe
        push_wait();
    }
}

template <class Clock>
void server_session<Clock>::probe_due()
{
    // Reads do not move the deadline (a timer re-armed on every beat would
    // cost more than the probes save); it is checked against the last read
    // when it fires, so a peer that beats on time is never probed.
    const auto interval = opts_->probe_interval;
    if (now_ - last_heard_ < interval) {
        deadline_ = last_heard_ + interval;
        return push_wait();
    }
    const auto probe = wire::encode_probe(++probes_sent_);
    std::copy(probe.begin(), probe.end(), frame_.begin());
    frame_size_ = static_cast<std::uint8_t>(probe.size());
    push_write(true); // like an ECHO: it must not wait behind DATA
    deadline_ = now_ + interval; // again after another interval of silence
    push_wait();
}

template <class Clock>
void server_session<Clock>::probe_answered(time_point now, std::optional<std::chrono::microseconds> rtt)
{
    now_ = now;
    if (phase_ != phase::online)
        return;
    push_touch();
    last_heard_ = now;
    if (rtt && *rtt >= std::chrono::microseconds::zero())
        add_rtt(std::chrono::duration_cast<duration>(*rtt));
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
    if (r.result == admission::outcome::full) {
        if (!v2_ || opts_->server_full_retry_after <= duration::zero())
            return fail(error::server_full);
        // A version 2 client also hears when to come back.
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(opts_->server_full_retry_after);
        composed_.resize(wire::header_size + wire::retry_after_payload_size);
        wire::encode_retry_after(composed_.data(),
                                 static_cast<std::uint32_t>(std::min<long long>(wait.count(), 0xFFFF'FFFFLL)));
        const auto& refusal = detail::error_frame(error::server_full);
        composed_.insert(composed_.end(), refusal.begin(), refusal.end());
        last_is_composed_ = true;
        return fail(error::server_full);
    }
    registered_ = true;
    phase_ = phase::online;
    last_heard_ = now; // the registry's first touch, too
    if (probing()) {
        deadline_ = now + opts_->probe_interval; // the first probe
        push_wait();
    }
    else {
        push_timer(true);
    }
    wire::welcome w;
    w.misses = static_cast<std::uint8_t>(std::clamp(opts_->misses, 1u, 255u));
    w.interval_ms = wire::to_wire_ms(r.held, 1);
    held_ = latest_ = {r.held, w.misses};
    if (v2_) {
        w.version = wire::protocol_version_2;
        w.grace_ms = wire::to_wire_ms(opts_->grace, 0);
        w.max_frame = static_cast<std::uint32_t>(std::min<std::size_t>(opts_->max_frame, wire::max_encodable_payload));
        w.detection = opts_->detection;
    }
    frame_size_ = static_cast<std::uint8_t>(wire::encode_welcome(frame_.data(), w));
    push_write(false);
}

template <class Clock>
void server_session<Clock>::timed_out(time_point now)
{
    now_ = now;
    if (phase_ != phase::online || !opts_->close_on_timeout)
        return;
    // The registry already said offline(timeout). The peer may still read
    // (a one-way outage, a paused process): it hears why, within the close
    // linger.
    release(offline_reason::timeout);
    close_after(error::timeout, true);
}

template <class Clock>
bool server_session<Clock>::kick(time_point now, std::optional<error> why)
{
    now_ = now;
    if (phase_ != phase::online)
        return false;
    release(offline_reason::kicked);
    if (why && has_wire_code(*why))
        close_after(*why, true);
    else {
        frame_size_ = encode_goodbye(wire::goodbye_reason::kicked);
        close_after(error::kicked, false);
    }
    return true;
}

template <class Clock>
bool server_session<Clock>::renegotiate(time_point now, duration interval, unsigned misses)
{
    now_ = now;
    if (phase_ != phase::online || !v2_ || interval <= duration::zero() || misses == 0)
        return false;
    const held_terms next{interval, std::min(misses, 255u)};
    wire::terms t;
    t.id = ++terms_sent_;
    t.misses = static_cast<std::uint8_t>(next.misses);
    t.interval_ms = wire::to_wire_ms(interval, 1);
    t.grace_ms = wire::to_wire_ms(opts_->grace, 0);
    frame_size_ = static_cast<std::uint8_t>(wire::encode_terms(frame_.data(), t));
    push_write(true);
    latest_ = next;
    // Longer terms hold at once (the peer beats faster than they ask
    // until it adopts them); shorter ones only once the peer says it beats
    // by them, so the deadline never runs ahead of the beats.
    ack_shortens_ = next.timeout() < held_.timeout();
    if (!ack_shortens_)
        push_hold(next);
    return true;
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
    if (phase_ == phase::closed || phase_ == phase::closing)
        return;
    if (phase_ == phase::handshake)
        return end_now(error::shutting_down, offline_reason::shutdown); // cannot carry a frame yet
    if (phase_ != phase::online)
        return close_after(error::shutting_down, true); // not welcomed: ERROR(shutting_down)
    release(offline_reason::shutdown);
    frame_size_ = encode_goodbye(wire::goodbye_reason::shutting_down);
    close_after(error::shutting_down, false);
}

template <class Clock>
send_verdict server_session<Clock>::accept_send(std::size_t payload_size, std::size_t frame_size, std::size_t queued,
                                                time_point now)
{
    now_ = now;
    if (phase_ != phase::online)
        return send_verdict::not_online;
    if (payload_size > peer_max_frame_)
        return send_verdict::too_large;
    if (queued + frame_size > opts_->max_send_queue) {
        // A peer that cannot keep up is closed rather than buffered
        // without bound.
        fail(error::send_queue_full);
        return send_verdict::overflow;
    }
    return send_verdict::queued;
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
    case wire::frame_type::terms_ack:
        if (!v2_)
            return fail(error::protocol_error);
        return on_terms_ack(f);
    case wire::frame_type::error: {
        // A client's ERROR says why it is closing: nothing to answer.
        wire::error_frame e;
        if (wire::parse_error(f, e) != wire::decode_status::ok)
            return fail(error::protocol_error);
        return end_now(std::nullopt, offline_reason::disconnected);
    }
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
    v2_ = (h.flags & wire::hello_flags::v2) != 0 && opts_->max_version >= wire::protocol_version_2;
    peer_answers_probes_ = v2_ && (h.flags & wire::hello_flags::probes) != 0;
    if (!v2_)
        decoder_.limit_types(wire::last_v1_frame_type);
    announced_ = std::chrono::duration_cast<duration>(std::chrono::milliseconds(h.interval_ms));
    phase_ = phase::authenticating;
    push(kind::authenticate);
}

template <class Clock>
void server_session<Clock>::on_beat(const wire::frame_view& f)
{
    std::uint32_t seq = 0;
    wire::returned_stamp returned;
    bool stamped = false;
    if (wire::parse_beat(f, v2_, seq, returned, stamped) != wire::decode_status::ok)
        return fail(error::protocol_error);
    // A peer that beats but never reads would grow its echo queue
    // without bound: it is held to the send queue limit.
    const std::size_t echo_size = wire::header_size + (v2_ ? wire::echo_v2_payload_size : 4);
    if (queued_ + echo_size > opts_->max_send_queue)
        return fail(error::send_queue_full);
    if (v2_)
        wire::encode_echo_v2(frame_.data(), seq, stamp_now());
    else {
        const auto echo = wire::encode_echo(seq);
        std::copy(echo.begin(), echo.end(), frame_.begin());
    }
    frame_size_ = static_cast<std::uint8_t>(echo_size);
    queued_ += echo_size;
    push_write(true);
    if (stamped)
        on_returned(returned);
    if (opts_->rtt_sample_interval != duration::zero()
        && (!sampled_once_ || now_ - rtt_sampled_ >= opts_->rtt_sample_interval)) {
        sampled_once_ = true;
        rtt_sampled_ = now_;
        push(kind::sample_rtt);
    }
}

template <class Clock>
void server_session<Clock>::on_returned(const wire::returned_stamp& r)
{
    // Both counts wrap at 2^32 us (71 minutes); a stamp older than half
    // of that, or a hold longer than the time since the stamp, is not a
    // round trip of this session.
    const std::uint32_t elapsed = stamp_now() - r.stamp;
    if (elapsed >= 0x8000'0000u || r.held_us > elapsed)
        return;
    add_rtt(std::chrono::duration_cast<duration>(std::chrono::microseconds(elapsed - r.held_us)));
}

template <class Clock>
void server_session<Clock>::on_terms_ack(const wire::frame_view& f)
{
    wire::terms_ack a;
    if (wire::parse_terms_ack(f, a) != wire::decode_status::ok)
        return fail(error::protocol_error);
    if (static_cast<std::uint16_t>(terms_sent_ - a.id) >= 0x8000u)
        return fail(error::protocol_error); // terms we never sent
    peer_max_frame_ = a.max_frame;
    if (a.id == terms_sent_ && ack_shortens_) {
        ack_shortens_ = false;
        push_hold(latest_);
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
    case kind::hold:
        a.interval = held_.interval;
        a.misses = held_.misses;
        break;
    case kind::measured_rtt: a.rtt = measured_; break;
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
        if (last_is_composed_) {
            a.data = composed_.data();
            a.size = composed_.size();
        }
        else if (last_is_error_) {
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

template <class Clock>
void server_session<Clock>::input_moved(const std::uint8_t* from, std::size_t size, const std::uint8_t* to) noexcept
{
    in_.moved(from, to);
    const auto inside = [&](std::string_view v) {
        const auto* p = reinterpret_cast<const std::uint8_t*>(v.data());
        return !v.empty() && std::less_equal<>()(from, p) && std::less<>()(p, from + size);
    };
    const auto rebased = [&](std::string_view v) {
        return std::string_view(reinterpret_cast<const char*>(to) + (v.data() - reinterpret_cast<const char*>(from)),
                                v.size());
    };
    if (inside(id_))
        id_ = rebased(id_);
    if (inside(credential_))
        credential_ = rebased(credential_);
}

} // namespace heartbeat

#endif
