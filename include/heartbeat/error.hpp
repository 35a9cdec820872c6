// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_ERROR_HPP
#define HEARTBEAT_ERROR_HPP

#include <heartbeat/detail/config.hpp>
#include <heartbeat/session/error.hpp>

#include <string>
#include <type_traits>

namespace heartbeat {

namespace detail {

#if defined(HEARTBEAT_USE_BOOST_ASIO)
using error_category_base = ::boost::system::error_category;
#else
using error_category_base = ::std::error_category;
#endif

class heartbeat_category final : public error_category_base {
public:
    const char* name() const noexcept override { return "heartbeat"; }

    std::string message(int ev) const override
    {
        return describe(static_cast<error>(ev));
    }
};

} // namespace detail

inline const detail::error_category_base& heartbeat_category() noexcept
{
    static const detail::heartbeat_category cat;
    return cat;
}

inline error_code make_error_code(error e) noexcept
{
    return error_code(static_cast<int>(e), heartbeat_category());
}

} // namespace heartbeat

#if defined(HEARTBEAT_USE_BOOST_ASIO)
template <>
struct boost::system::is_error_code_enum<heartbeat::error> : std::true_type {
};
#else
template <>
struct std::is_error_code_enum<heartbeat::error> : std::true_type {
};
#endif

#endif
