#include "runtime/status.h"

namespace vkc {

const char* status_name(Status s) {
    switch (s) {
    case Status::ok: return "ok";
    case Status::invalid_argument: return "invalid_argument";
    case Status::invalid_model: return "invalid_model";
    case Status::io_error: return "io_error";
    case Status::unsupported: return "unsupported";
    case Status::out_of_memory: return "out_of_memory";
    case Status::device_lost: return "device_lost";
    case Status::vulkan_error: return "vulkan_error";
    case Status::cancelled: return "cancelled";
    case Status::internal: return "internal";
    }
    return "unknown_status";
}

} // namespace vkc
