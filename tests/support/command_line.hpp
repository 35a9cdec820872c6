// `--name value` options for the test and benchmark processes.
#ifndef HEARTBEAT_TESTS_SUPPORT_COMMAND_LINE_HPP
#define HEARTBEAT_TESTS_SUPPORT_COMMAND_LINE_HPP

#include <cstdlib>
#include <map>
#include <string>

namespace heartbeat_test {

class command_line {
public:
    /// Reads `--name value` pairs from argv[first] on.
    command_line(int argc, char** argv, int first)
    {
        for (int i = first; i + 1 < argc; i += 2)
            values_[argv[i]] = argv[i + 1];
    }

    std::string text(const std::string& name, std::string fallback) const
    {
        const auto it = values_.find(name);
        return it == values_.end() ? fallback : it->second;
    }

    long number(const std::string& name, long fallback) const
    {
        const auto it = values_.find(name);
        return it == values_.end() ? fallback : std::strtol(it->second.c_str(), nullptr, 10);
    }

private:
    std::map<std::string, std::string> values_;
};

} // namespace heartbeat_test

#endif
