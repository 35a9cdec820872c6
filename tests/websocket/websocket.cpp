#include <catch2/catch.hpp>
TEST_CASE("websocket: placeholder", "[websocket]") { CHECK(true); }
