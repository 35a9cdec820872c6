// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_SESSION_IMPL_CLIENT_SESSION_HPP
#define HEARTBEAT_SESSION_IMPL_CLIENT_SESSION_HPP

// The longer steps of client_session, out of line so its header reads as the
// machine's interface: inputs, actions, options.

#include <heartbeat/session/client_session.hpp>

namespace heartbeat {

template <class Clock, class Policy>
void client_session<Clock, Policy>::start(time_point now)
{
    now_ = now;
    if (phase_ != phase::idle)
        return;
    if (opts_.id.empty() || opts_.id.size() > wire::max_id_size
        || opts_.credential.size() > wire::max_credential_size)
        return finish(ending::error, error::bad_id);
    phase_ = phase::hello;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.interval).count();
    hello_frame_.clear();
    std::uint8_t flags = 0;
    if (opts_.max_version >= wire::protocol_version_2)
        flags = static_cast<std::uint8_t>(wire::hello_flags::v2 | (opts_.answer_probes ? wire::hello_flags::probes : 0));
    wire::append_hello(hello_frame_, {wire::protocol_version,
                                      static_cast<std::uint32_t>(std::clamp<long long>(ms, 0, 0xFFFF'FFFFLL)),
                                      opts_.id, opts_.credential, flags});
    action a = make(kind::write);
    a.data = hello_frame_.data();
    a.size = hello_frame_.size();
    queue_.push(a);
    hello_deadline_ = now + opts_.hello_timeout;
    rearm();
}

template <class Clock, class Policy>
void client_session<Clock, Policy>::write_started(time_point now) noexcept
{
    wrote_this_interval_ = true;
    if (queued_beat_) {
        writing_since_ = now;
        writing_beat_ = queued_beat_;
        highest_sent_ = *queued_beat_;
        sent_any_ = true;
        queued_beat_.reset();
    }
}

template <class Clock, class Policy>
void client_session<Clock, Policy>::write_done(time_point now)
{
    now_ = now;
    if (!writing_beat_)
        return;
    if (!echoed_in_flight_) {
        unanswered_.push_back({*writing_beat_, now, writing_since_});
        // With an adaptive policy nothing caps the list but the policy's
        // own verdict: keep it bounded for a server that never answers.
        if (unanswered_.size() > max_unanswered)
            unanswered_.pop_front();
    }
    writing_beat_.reset();
    echoed_in_flight_ = false;
    ++beats_sent_;
    rearm();
}

template <class Clock, class Policy>
void client_session<Clock, Policy>::timer_fired(time_point now)
{
    now_ = now;
    armed_.reset();
    switch (phase_) {
    case phase::hello:
        if (now >= hello_deadline_)
            return finish(ending::error, error::hello_timeout);
        break;
    case phase::running:
        if (const auto lost = lost_at(); lost && now >= *lost) {
            const time_point due = *watchdog();
            const duration late = now - due;
            const bool deferred_already = deferred_watchdog_ && *deferred_watchdog_ == due;
            if (deferred_already || opts_.lag_threshold <= duration::zero() || late <= opts_.lag_threshold)
                return finish(ending::error, error::peer_lost);
            deferred_watchdog_ = due;
            lag_until_ = now + std::min(late, interval_);
        }
        if (now >= beat_due_)
            beat(now);
        break;
    case phase::leaving:
        if (now >= close_deadline_)
            return finish(ending::success, {});
        break;
    case phase::idle:
    case phase::done: break;
    }
    rearm();
}

template <class Clock, class Policy>
void client_session<Clock, Policy>::leave(time_point now)
{
    now_ = now;
    if (phase_ == phase::done || phase_ == phase::leaving)
        return;
    if (phase_ == phase::idle)
        return finish(ending::success, {});
    phase_ = phase::leaving;
    queued_beat_.reset(); // close_after drops it with the rest of the queue
    close_deadline_ = now + opts_.close_timeout;
    const auto bye = wire::encode_goodbye(wire::goodbye_reason::normal);
    std::copy(bye.begin(), bye.end(), goodbye_frame_.begin());
    rearm();
    action a = make(kind::close_after);
    a.data = goodbye_frame_.data();
    a.size = bye.size();
    queue_.push(a);
}

template <class Clock, class Policy>
typename client_session<Clock, Policy>::action
client_session<Clock, Policy>::next()
{
    for (;;) {
        if (!queue_.empty())
            return queue_.pop();
        if (phase_ == phase::done || phase_ == phase::idle)
            return action{};
        if (in_.has_bytes()) {
            wire::frame_view f{};
            switch (decoder_.next(in_.cursor(), in_.end(), f)) {
            case wire::decoder::step::frame:
                if (f.type != wire::frame_type::echo)
                    life_ = true;
                on_frame(f);
                continue;
            case wire::decoder::step::failed:
                finish(ending::error, to_error(decoder_.status()));
                continue;
            case wire::decoder::step::need_more: break;
            }
        }
        if (in_.take_end_of_feed()) {
            if (decoder_.mid_frame())
                life_ = true; // part of a larger frame: the server is talking
            end_of_input();
            continue;
        }
        if (in_.take_eof()) {
            finish(phase_ == phase::leaving ? ending::success : ending::transport, {});
            continue;
        }
        return in_.take_read_request() ? make(kind::read) : action{};
    }
}

template <class Clock, class Policy>
void client_session<Clock, Policy>::end_of_input()
{
    if (life_ && phase_ == phase::running) {
        // Any traffic but an echo answers everything sent so far.
        unanswered_.clear();
        answered(now_);
    }
    life_ = false;
    rearm();
}

template <class Clock, class Policy>
void client_session<Clock, Policy>::on_frame(const wire::frame_view& f)
{
    using wire::frame_type;
    const bool asked_v2 = opts_.max_version >= wire::protocol_version_2;
    if (f.type == frame_type::retry_after && asked_v2 && !v2_ && phase_ == phase::hello && !retry_after_) {
        // Only ahead of a refusal, which the next frame says.
        std::uint32_t ms = 0;
        if (wire::parse_retry_after(f, ms) != wire::decode_status::ok)
            return finish(ending::error, error::protocol_error);
        retry_after_ = std::chrono::duration_cast<duration>(std::chrono::milliseconds(ms));
        return;
    }
    if (phase_ == phase::hello) {
        if (retry_after_ && f.type != frame_type::error)
            return finish(ending::error, error::protocol_error); // RETRY_AFTER comes only ahead of ERROR
        if (f.type == frame_type::welcome)
            return on_welcome(f);
        if (f.type == frame_type::error)
            return on_error_frame(f);
        return finish(ending::error, error::protocol_error);
    }
    if (phase_ == phase::leaving && f.type == frame_type::welcome)
        return; // leave() overtook the handshake; GOODBYE is on its way
    switch (f.type) {
    case frame_type::echo: {
        std::uint32_t seq = 0;
        std::uint32_t stamp = 0;
        if (wire::parse_echo(f, v2_, seq, stamp) != wire::decode_status::ok)
            return finish(ending::error, error::protocol_error);
        if (v2_) {
            stamp_pending_ = true;
            stamp_ = stamp;
            stamp_read_ = now_;
        }
        return on_echo(seq);
    }
    case frame_type::terms:
        if (!v2_)
            return finish(ending::error, error::protocol_error);
        return on_terms(f);
    case frame_type::probe: return on_probe(f);
    case frame_type::data: {
        action a = make(kind::deliver);
        a.data = f.payload;
        a.size = f.size;
        return queue_.push(a);
    }
    case frame_type::error: return on_error_frame(f);
    case frame_type::goodbye: {
        wire::goodbye_reason r{};
        if (wire::parse_goodbye(f, r) != wire::decode_status::ok)
            return finish(ending::error, error::protocol_error);
        if (phase_ == phase::leaving)
            return finish(ending::success, {}); // we were leaving anyway
        return finish(ending::error, r == wire::goodbye_reason::replaced        ? error::replaced
                                     : r == wire::goodbye_reason::shutting_down ? error::shutting_down
                                     : r == wire::goodbye_reason::kicked        ? error::kicked
                                                                                : error::peer_left);
    }
    default: return finish(ending::error, error::protocol_error);
    }
}

template <class Clock, class Policy>
void client_session<Clock, Policy>::on_welcome(const wire::frame_view& f)
{
    wire::welcome w;
    if (const auto st = wire::parse_welcome(f, w); st != wire::decode_status::ok)
        return finish(ending::error, to_error(st));
    if (w.version == wire::protocol_version_2 && opts_.max_version < wire::protocol_version_2)
        return finish(ending::error, error::unsupported_version); // granted what we never asked for
    const auto iv = std::chrono::duration_cast<duration>(std::chrono::milliseconds(w.interval_ms));
    if (!acceptable(iv, w.misses))
        return finish(ending::error, error::unacceptable_terms);
    phase_ = phase::running;
    v2_ = w.version == wire::protocol_version_2;
    if (!v2_)
        decoder_.limit_types(wire::last_v1_frame_type);
    if (v2_) {
        grace_ = std::chrono::duration_cast<duration>(std::chrono::milliseconds(w.grace_ms));
        server_max_frame_ = w.max_frame;
        detection_ = w.detection;
    }
    interval_ = iv;
    misses_ = w.misses;
    last_answer_ = now_;
    if constexpr (!counts_echoes) {
        learned_ = policy_.initial_state();
        policy_.set_interval(learned_, iv);
        policy_.on_online(learned_, last_answer_);
    }
    beat_due_ = now_ + interval_;
    action a = make(kind::established);
    a.interval = iv;
    a.misses = w.misses;
    queue_.push(a);
    if (v2_)
        acknowledge(0, true); // ahead of any DATA: it carries our limit
}

template <class Clock, class Policy>
void client_session<Clock, Policy>::acknowledge(std::uint16_t id, bool urgent)
{
    wire::encode_terms_ack(ack_frame_.data(), {id, static_cast<std::uint32_t>(std::min<std::size_t>(
                                                       opts_.max_frame, wire::max_encodable_payload))});
    action a = make(kind::write);
    a.urgent = urgent;
    a.data = ack_frame_.data();
    a.size = ack_frame_.size();
    queue_.push(a);
}

template <class Clock, class Policy>
void client_session<Clock, Policy>::on_terms(const wire::frame_view& f)
{
    if (phase_ != phase::running)
        return; // leaving: GOODBYE is on its way, whatever the terms
    wire::terms t;
    if (wire::parse_terms(f, t) != wire::decode_status::ok)
        return finish(ending::error, error::protocol_error);
    const auto iv = std::chrono::duration_cast<duration>(std::chrono::milliseconds(t.interval_ms));
    if (!acceptable(iv, t.misses))
        return finish(ending::error, error::unacceptable_terms);
    acknowledge(t.id, true);
    // Adopted at once: the next beat comes no later than one new interval
    // from now, so a server that shortens on our ack never waits longer
    // than the terms it holds us to.
    interval_ = iv;
    misses_ = t.misses;
    grace_ = std::chrono::duration_cast<duration>(std::chrono::milliseconds(t.grace_ms));
    beat_due_ = std::min(beat_due_, now_ + iv);
    if constexpr (!counts_echoes)
        policy_.set_interval(learned_, iv);
    action a = make(kind::terms_changed);
    a.interval = iv;
    a.misses = t.misses;
    queue_.push(a);
    rearm();
}

template <class Clock, class Policy>
void client_session<Clock, Policy>::on_echo(std::uint32_t seq)
{
    if (!sent_any_ || static_cast<std::int32_t>(seq - highest_sent_) > 0)
        return finish(ending::error, error::protocol_error);
    ++echoes_;
    if (writing_beat_ && *writing_beat_ == seq) {
        // Answered before our write completion ran: it was on the wire.
        echoed_in_flight_ = true;
        unanswered_.clear();
        return answered(now_);
    }
    const bool newest = !unanswered_.empty() && unanswered_.back().seq == seq;
    while (!unanswered_.empty() && static_cast<std::int32_t>(unanswered_.front().seq - seq) <= 0) {
        if (unanswered_.front().seq == seq)
            rtt_.add(now_ - unanswered_.front().started);
        unanswered_.pop_front();
    }
    if (newest)
        answered(now_);
}

template <class Clock, class Policy>
void client_session<Clock, Policy>::on_probe(const wire::frame_view& f)
{
    // Only a client that offered (hence a version 2 one) is probed; in a
    // version 1 session the decoder does not know the type at all.
    std::uint32_t seq = 0;
    if (!v2_ || !opts_.answer_probes || wire::parse_probe(f, seq) != wire::decode_status::ok)
        return finish(ending::error, error::protocol_error);
    ++probes_;
    if (phase_ != phase::running)
        return; // leaving: GOODBYE answers it
    // Answered now, whatever our timers do: the server asks because it has
    // heard nothing for a while. The schedule stays as it is.
    queue_beat(now_);
}

template <class Clock, class Policy>
void client_session<Clock, Policy>::beat(time_point now)
{
    const bool busy_both_ways = wrote_this_interval_ && heard_this_interval_;
    wrote_this_interval_ = false;
    heard_this_interval_ = false;
    beat_due_ = now + interval_;
    if (opts_.beat_only_when_idle && busy_both_ways)
        return;
    queue_beat(now);
}

template <class Clock, class Policy>
void client_session<Clock, Policy>::queue_beat(time_point now)
{
    // At most one beat waits for the write in flight; it goes out ahead
    // of queued DATA as soon as that write completes.
    if (queued_beat_)
        return;
    const std::uint32_t seq = next_seq_++;
    std::size_t size = 0;
    if (stamp_pending_) {
        stamp_pending_ = false;
        const auto held = std::chrono::duration_cast<std::chrono::microseconds>(now - stamp_read_).count();
        size = wire::encode_beat_v2(beat_frame_.data(), seq,
                                    {stamp_, static_cast<std::uint32_t>(std::clamp<long long>(held, 0, 0xFFFF'FFFFLL))});
    }
    else {
        const auto frame = wire::encode_beat(seq);
        std::copy(frame.begin(), frame.end(), beat_frame_.begin());
        size = frame.size();
    }
    queued_beat_ = seq;
    action a = make(kind::write);
    a.urgent = true;
    a.data = beat_frame_.data();
    a.size = size;
    queue_.push(a);
}

template <class Clock, class Policy>
std::optional<typename client_session<Clock, Policy>::time_point>
client_session<Clock, Policy>::watchdog() const
{
    if constexpr (counts_echoes) {
        if (misses_ == 0 || unanswered_.size() < misses_)
            return std::nullopt;
        auto it = unanswered_.begin();
        it += static_cast<std::ptrdiff_t>(misses_ - 1);
        return it->written + interval_ + duration(1);
    }
    else {
        return policy_.offline_at(learned_, last_answer_);
    }
}

template <class Clock, class Policy>
std::optional<typename client_session<Clock, Policy>::time_point>
client_session<Clock, Policy>::lost_at() const
{
    const auto due = watchdog();
    // A new answer moves the watchdog, which ends the deferral.
    if (due && deferred_watchdog_ && *deferred_watchdog_ == *due)
        return lag_until_;
    return due;
}

template <class Clock, class Policy>
void client_session<Clock, Policy>::rearm()
{
    std::optional<time_point> due;
    if (phase_ == phase::hello)
        due = hello_deadline_;
    else if (phase_ == phase::running) {
        due = beat_due_;
        if (const auto lost = lost_at())
            due = std::min(*due, *lost);
    }
    else if (phase_ == phase::leaving)
        due = close_deadline_;
    if (due == armed_)
        return;
    armed_ = due;
    action a = make(due ? kind::wait_until : kind::cancel_timer);
    if (due)
        a.at = *due;
    queue_.push(a);
}

template <class Clock, class Policy>
void client_session<Clock, Policy>::finish(ending how, error code)
{
    if (phase_ == phase::done)
        return;
    if (!refused_)
        retry_after_.reset(); // a RETRY_AFTER counts only with the refusal it announced
    phase_ = phase::done;
    armed_.reset();
    in_.forget();
    queued_beat_.reset();
    action a = make(kind::finish);
    a.end = how;
    a.code = code;
    queue_.push(a);
}

} // namespace heartbeat

#endif
