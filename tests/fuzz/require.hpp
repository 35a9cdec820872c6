// The fuzzers' check: a broken promise names itself before aborting, so a
// crash file explains itself when replayed.
#ifndef HEARTBEAT_TESTS_FUZZ_REQUIRE_HPP
#define HEARTBEAT_TESTS_FUZZ_REQUIRE_HPP

#include <cstdio>
#include <cstdlib>

#define HEARTBEAT_FUZZ_REQUIRE(cond)                                                                              \
    do {                                                                                                          \
        if (!(cond)) {                                                                                            \
            std::fprintf(stderr, "%s:%d: broken: %s\n", __FILE__, __LINE__, #cond);                                \
            std::abort();                                                                                         \
        }                                                                                                         \
    } while (0)

#endif
