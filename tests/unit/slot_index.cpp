// The registry's key -> slot table against std::unordered_map, under
// random inserts and erases, with a good hash and with a terrible one
// (every key in one of four clusters, so backward-shift deletion runs
// across long clusters and the table's wrap-around).
#include <heartbeat/core/detail/slot_index.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <unordered_map>
#include <vector>

namespace {

struct clustered_hash {
    std::size_t operator()(std::uint64_t k) const noexcept { return k % 4; }
};

template <class Hash>
void against_model(unsigned seed, std::uint64_t key_space, int ops)
{
    heartbeat::detail::slot_index<std::uint64_t, Hash, std::equal_to<>> index;
    std::unordered_map<std::uint64_t, std::uint32_t> model;
    std::vector<std::uint64_t> slot_keys; // slot -> key, as the registry keeps them
    std::vector<std::uint32_t> free_slots;
    const auto key_at = [&](std::uint32_t slot) -> const std::uint64_t& { return slot_keys[slot]; };
    std::mt19937_64 rng(seed);
    for (int op = 0; op < ops; ++op) {
        const std::uint64_t key = rng() % key_space;
        const auto it = model.find(key);
        const std::uint32_t found = index.find(key, key_at);
        REQUIRE(found == (it == model.end() ? index.npos : it->second));
        if (it == model.end()) {
            std::uint32_t slot;
            if (!free_slots.empty()) {
                slot = free_slots.back();
                free_slots.pop_back();
                slot_keys[slot] = key;
            }
            else {
                slot = static_cast<std::uint32_t>(slot_keys.size());
                slot_keys.push_back(key);
            }
            index.insert(key, slot);
            model.emplace(key, slot);
        }
        else if (rng() % 3 != 0) { // erase more often than not, so it churns
            index.erase(key, it->second);
            free_slots.push_back(it->second);
            model.erase(it);
        }
        REQUIRE(index.size() == model.size());
    }
    std::size_t visited = 0;
    index.for_each([&](std::uint32_t slot) {
        ++visited;
        REQUIRE(model.at(slot_keys[slot]) == slot);
    });
    CHECK(visited == model.size());
}

} // namespace

TEST_CASE("slot_index agrees with unordered_map under churn", "[slot_index]")
{
    for (unsigned seed = 1; seed <= 3; ++seed) {
        against_model<std::hash<std::uint64_t>>(seed, 5'000, 60'000);
        against_model<clustered_hash>(seed, 300, 20'000);
    }
}

TEST_CASE("slot_index: reserve, clear, missing keys", "[slot_index]")
{
    heartbeat::detail::slot_index<std::uint64_t, std::hash<std::uint64_t>, std::equal_to<>> index;
    std::vector<std::uint64_t> keys{7, 11, 13};
    const auto key_at = [&](std::uint32_t slot) -> const std::uint64_t& { return keys[slot]; };
    CHECK(index.find(7, key_at) == index.npos); // empty table
    index.reserve(1000);
    for (std::uint32_t i = 0; i < keys.size(); ++i)
        index.insert(keys[i], i);
    CHECK(index.find(11, key_at) == 1);
    CHECK(index.find(12, key_at) == index.npos);
    CHECK(index.size() == 3);
    index.clear();
    CHECK(index.empty());
    CHECK(index.find(7, key_at) == index.npos);
}
