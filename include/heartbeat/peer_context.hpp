// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_PEER_CONTEXT_HPP
#define HEARTBEAT_PEER_CONTEXT_HPP

#include <any>
#include <memory>
#include <type_traits>
#include <utility>

namespace heartbeat {

/// What the application attached to a peer's session when it let the peer
/// in (a user id, roles, a tenant: see `watcher::set_async_authenticator`).
///
/// Any copyable type, set once and never changed: the watcher hands copies
/// of this handle to queries on any thread, so the value is shared, not
/// copied, and reading it needs no lock. `get<T>()` checks the type.
class peer_context {
public:
    peer_context() = default;

    template <class T, class = std::enable_if_t<!std::is_same_v<std::decay_t<T>, peer_context>>>
    peer_context(T&& value) // NOLINT: implicit, as std::any is
        : value_(std::make_shared<const std::any>(std::in_place_type<std::decay_t<T>>, std::forward<T>(value)))
    {
    }

    bool has_value() const noexcept { return value_ != nullptr; }
    explicit operator bool() const noexcept { return has_value(); }

    /// The value if it is a `T`, else null.
    template <class T>
    const T* get() const noexcept
    {
        return value_ ? std::any_cast<T>(value_.get()) : nullptr;
    }

    /// The value itself, for code that wants std::any's interface.
    const std::any* any() const noexcept { return value_.get(); }

private:
    std::shared_ptr<const std::any> value_;
};

} // namespace heartbeat

#endif
