// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_REDIS_DETAIL_REPLY_HPP
#define HEARTBEAT_REDIS_DETAIL_REPLY_HPP

// A Redis reply the components can keep: hiredis frees its own once the
// callback returns.

#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace heartbeat::redis::detail {

/// A copy of a hiredis reply, so it can outlive the callback.
struct reply {
    enum class kind : std::uint8_t { nil, string, status, error, integer, array };
    kind type = kind::nil;
    std::string str;
    long long integer = 0;
    std::vector<reply> elements;

    static reply from(const redisReply* r)
    {
        reply out;
        switch (r->type) {
        case REDIS_REPLY_STRING: out.type = kind::string; break;
        case REDIS_REPLY_STATUS: out.type = kind::status; break;
        case REDIS_REPLY_ERROR: out.type = kind::error; break;
        case REDIS_REPLY_INTEGER: out.type = kind::integer; break;
        case REDIS_REPLY_ARRAY: out.type = kind::array; break;
        default: out.type = kind::nil; break;
        }
        if (out.type == kind::string || out.type == kind::status || out.type == kind::error)
            out.str.assign(r->str, r->len);
        out.integer = r->integer;
        if (out.type == kind::array) {
            out.elements.reserve(r->elements);
            for (std::size_t i = 0; i < r->elements; ++i)
                out.elements.push_back(from(r->element[i]));
        }
        return out;
    }
};

} // namespace heartbeat::redis::detail

#endif
