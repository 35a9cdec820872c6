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

/// A move-only, type-erased completion handler that keeps its associated
/// executor busy until it runs, and runs there (never inside the function
/// that completes it). Needed because completion handlers (use_awaitable's
/// among them) are move-only and C++17 has no move-only std::function.
template <class... Args>
class erased_handler {
public:
    erased_handler() = default;

    template <class Handler, class DefaultExecutor>
    erased_handler(Handler&& h, const DefaultExecutor& fallback)
        : impl_(std::make_unique<impl<std::decay_t<Handler>, DefaultExecutor>>(
              std::forward<Handler>(h), fallback))
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

    template <class Handler, class DefaultExecutor>
    struct impl final : base {
        impl(Handler&& h, const DefaultExecutor& fallback)
            : work(net::prefer(net::get_associated_executor(h, fallback),
                               net::execution::outstanding_work.tracked)),
              handler(std::move(h))
        {
        }

        void post(std::unique_ptr<base> self, Args... args) override
        {
            auto ex = work;
            auto alloc = net::get_associated_allocator(handler);
            net::execution::execute(
                net::prefer(ex, net::execution::blocking.never, net::execution::allocator(alloc)),
                [h = std::move(handler), t = std::make_tuple(std::move(args)...)]() mutable {
                    std::apply(std::move(h), std::move(t));
                });
            self.reset();
        }

        // prefer() hands an executor without the property back as it came,
        // possibly as a reference: store a value.
        std::decay_t<decltype(net::prefer(
            std::declval<net::associated_executor_t<Handler, DefaultExecutor>>(),
            net::execution::outstanding_work.tracked))>
            work;
        Handler handler;
    };

    std::unique_ptr<base> impl_;
};

} // namespace heartbeat::detail

#endif
