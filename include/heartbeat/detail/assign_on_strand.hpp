// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_DETAIL_ASSIGN_ON_STRAND_HPP
#define HEARTBEAT_DETAIL_ASSIGN_ON_STRAND_HPP

#include <heartbeat/detail/config.hpp>

#include <memory>
#include <utility>

namespace heartbeat::detail {

/// Sets `owner->*member = f` on the owner's strand, unless the owner has
/// stopped by then: how every component's callback setters stay safe from
/// any thread and keep their order with the calls made after them. `Owner`
/// has `strand` and `stopped` members.
template <class Owner, class Member, class F>
void assign_on_strand(const std::shared_ptr<Owner>& owner, Member Owner::*member, F f)
{
    net::dispatch(owner->strand, [owner, member, f = std::move(f)]() mutable {
        if (!owner->stopped)
            (*owner).*member = std::move(f);
    });
}

} // namespace heartbeat::detail

#endif
