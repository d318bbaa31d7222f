// Error type used inside the library. Exceptions never cross the C API: host/ converts them to
// status codes plus a last-error string.
#pragma once
#include <stdexcept>
#include <string>

namespace vkc {

enum class Status : int {
    ok = 0,
    invalid_argument = 1,   // bad parameter from the caller (ids out of range, prompt too long, ...)
    invalid_model = 2,      // config.json / safetensors content is wrong
    io_error = 3,           // file missing, unreadable, truncated
    unsupported = 4,        // valid input this build or device cannot run
    out_of_memory = 5,      // host or device allocation failed
    device_lost = 6,        // VK_ERROR_DEVICE_LOST: reload to recover
    vulkan_error = 7,       // any other Vulkan failure
    cancelled = 8,
    internal = 9,
};

const char* status_name(Status s);

class Error : public std::runtime_error {
public:
    Error(Status s, const std::string& msg) : std::runtime_error(msg), status_(s) {}
    Status status() const { return status_; }
private:
    Status status_;
};

[[noreturn]] inline void fail(Status s, const std::string& msg) { throw Error(s, msg); }

} // namespace vkc
