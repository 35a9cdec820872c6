// A child process whose stdout the test reads line by line, with bounded
// waits. A reader thread drains the pipe all the time, so a chatty child
// never blocks on a full pipe while the test waits on another one. The
// test owns the child: the destructor kills it (SIGKILL, by PID) and reaps
// it, so a failing test leaves nothing behind.
#ifndef HEARTBEAT_TESTS_SUPPORT_CHILD_PROCESS_HPP
#define HEARTBEAT_TESTS_SUPPORT_CHILD_PROCESS_HPP

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace heartbeat_test {

/// Whitespace-separated fields of a line.
inline std::vector<std::string> fields(const std::string& line)
{
    std::istringstream in(line);
    std::vector<std::string> out;
    for (std::string w; in >> w;)
        out.push_back(w);
    return out;
}

/// True if the line's first fields are `prefix`.
inline bool starts_with(const std::string& line, const std::string& prefix)
{
    return line.size() > prefix.size() && line.compare(0, prefix.size(), prefix) == 0 && line[prefix.size()] == ' ';
}

class child_process {
public:
    explicit child_process(const std::vector<std::string>& argv)
    {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0)
            throw std::runtime_error("pipe2 failed");
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        const int rc = ::posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        ::close(fds[1]);
        if (rc != 0) {
            ::close(fds[0]);
            throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
        }
        reader_ = std::thread([this, fd = fds[0]] { drain(fd); });
    }

    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    ~child_process()
    {
        kill();
        reader_.join(); // the pipe reports EOF once the child is gone
    }

    pid_t pid() const noexcept { return pid_; }

    void signal(int sig) const
    {
        if (pid_ > 0)
            ::kill(pid_, sig);
    }

    /// SIGKILL and reap. Safe to call twice.
    void kill()
    {
        if (pid_ <= 0)
            return;
        ::kill(pid_, SIGCONT); // a stopped child must be able to die
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }

    /// The first line, from the start of the child's output (lines already
    /// seen included, so no event is missed between calls), that satisfies
    /// `pred` and comes after `skip` earlier matches. Waits at most `timeout`.
    template <class Pred>
    std::optional<std::string> wait_line(Pred pred, std::chrono::steady_clock::duration timeout, int skip = 0)
    {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        std::size_t scanned = 0;
        std::unique_lock<std::mutex> lock(mu_);
        for (;;) {
            for (; scanned < lines_.size(); ++scanned)
                if (pred(lines_[scanned]) && skip-- == 0)
                    return lines_[scanned];
            if (closed_ || cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
                for (; scanned < lines_.size(); ++scanned)
                    if (pred(lines_[scanned]) && skip-- == 0)
                        return lines_[scanned];
                return std::nullopt;
            }
        }
    }

    /// Waits for a line whose first fields are `prefix` (space-separated).
    std::optional<std::string> wait_for(const std::string& prefix, std::chrono::steady_clock::duration timeout,
                                        int skip = 0)
    {
        return wait_line([&](const std::string& l) { return starts_with(l, prefix); }, timeout, skip);
    }

    /// Every line so far (a copy).
    std::vector<std::string> lines() const
    {
        std::lock_guard<std::mutex> lock(mu_);
        return lines_;
    }

    std::size_t count(const std::string& prefix) const
    {
        std::lock_guard<std::mutex> lock(mu_);
        std::size_t n = 0;
        for (const auto& l : lines_)
            n += starts_with(l, prefix) ? 1u : 0u;
        return n;
    }

private:
    void drain(int fd)
    {
        std::string partial;
        char buf[16384];
        for (;;) {
            const ssize_t n = ::read(fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            partial.append(buf, static_cast<std::size_t>(n));
            std::lock_guard<std::mutex> lock(mu_);
            for (std::size_t nl; (nl = partial.find('\n')) != std::string::npos;) {
                lines_.push_back(partial.substr(0, nl));
                partial.erase(0, nl + 1);
            }
            cv_.notify_all();
        }
        ::close(fd);
        std::lock_guard<std::mutex> lock(mu_);
        closed_ = true;
        cv_.notify_all();
    }

    pid_t pid_ = -1;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::string> lines_;
    bool closed_ = false;
    std::thread reader_;
};

} // namespace heartbeat_test

#endif
