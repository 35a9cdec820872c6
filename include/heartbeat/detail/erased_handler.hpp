// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_DETAIL_ERASED_HANDLER_HPP
#define HEARTBEAT_DETAIL_ERASED_HANDLER_HPP

#include <heartbeat/detail/config.hpp>

#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

namespace heartbeat::detail {

/// A move-only, type-erased completion handler that keeps the I/O executor
/// busy until it runs, and runs on its associated executor (never inside
/// the function that completes it). Needed because completion handlers (use_awaitable's
/// among them) are move-only and C++17 has no move-only std::function.
template <class... Args>
class erased_handler {
public:
    erased_handler() = default;

    template <class Handler, class IoExecutor>
    erased_handler(Handler&& h, const IoExecutor& io)
        : impl_(std::make_unique<impl<std::decay_t<Handler>, IoExecutor>>(std::forward<Handler>(h), io))
    {
    }

    explicit operator bool() const noexcept { return impl_ != nullptr; }

    /// Posts the handler with `args` to its executor. Empties this object.
    void complete(Args... args)
    {
        if (auto p = std::move(impl_))
            p->post(std::move(p), std::move(args)...);
    }

private:
    struct base {
        virtual ~base() = default;
        virtual void post(std::unique_ptr<base> self, Args... args) = 0;
    };

    template <class Handler, class IoExecutor>
    struct impl final : base {
        template <class H>
        impl(H&& h, const IoExecutor& io)
            : work(net::prefer(io, net::execution::outstanding_work.tracked)), handler(std::forward<H>(h))
        {
        }

        // Like Asio's own operations: the completion is posted through the
        // I/O executor and from there dispatched to the handler's associated
        // executor, so it never runs inside the completing call and no
        // executor spawns threads of its own for it.
        void post(std::unique_ptr<base> self, Args... args) override
        {
            auto target = net::get_associated_executor(handler, work);
            auto io = work;
            net::post(io, net::bind_executor(std::move(target),
                                             [h = std::move(handler),
                                              t = std::make_tuple(std::move(args)...)]() mutable {
                                                 std::apply(std::move(h), std::move(t));
                                             }));
            self.reset();
        }

        // prefer() may hand back its argument as a reference: store a value.
        std::decay_t<decltype(net::prefer(std::declval<const IoExecutor&>(),
                                          net::execution::outstanding_work.tracked))>
            work;
        Handler handler;
    };

    std::unique_ptr<base> impl_;
};

} // namespace heartbeat::detail

#endif
