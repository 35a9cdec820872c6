// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_CORE_POLICY_TRAITS_HPP
#define HEARTBEAT_CORE_POLICY_TRAITS_HPP

// What the layers above may ask of a detection policy type without naming
// it. docs/CORE.md lists the whole policy interface.

#include <type_traits>
#include <utility>

namespace heartbeat {
namespace detail {

template <class Policy, class = void>
struct declares_counts_misses : std::false_type {};

template <class Policy>
struct declares_counts_misses<Policy, std::void_t<decltype(Policy::counts_misses)>>
    : std::bool_constant<static_cast<bool>(Policy::counts_misses)> {};

// Can the policy hold one peer to a miss count of its own (renegotiated
// terms)? It says so with `set_misses(peer_state&, unsigned)`.
template <class Policy, class = void>
struct counts_misses_per_peer : std::false_type {};

template <class Policy>
struct counts_misses_per_peer<Policy, std::void_t<decltype(std::declval<const Policy&>().set_misses(
                                          std::declval<typename Policy::peer_state&>(), 0u))>> : std::true_type {};

} // namespace detail

/// Does `Policy` decide by counting missed beats ("offline after N
/// intervals of silence", like fixed_misses)? A client that uses such a
/// policy to watch its server counts unanswered beats (echoes) instead of
/// feeding arrival times to the policy.
///
/// A policy says so with a member `static constexpr bool counts_misses =
/// true;`. Without the member the answer is false (an adaptive policy, like
/// phi_accrual).
template <class Policy>
struct counts_echoes : detail::declares_counts_misses<Policy> {};

template <class Policy>
inline constexpr bool counts_echoes_v = counts_echoes<Policy>::value;

} // namespace heartbeat

#endif
