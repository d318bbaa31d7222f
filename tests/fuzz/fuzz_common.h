// Shared by the libFuzzer targets (tests/fuzz/fuzz_*.cpp). The contract under test: a parser of outside
// data either succeeds or throws vkc::Error; any other exception, crash, leak or UB is a finding.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/status.h"

namespace vkc::fuzz {

inline std::string as_string(const uint8_t* data, size_t size) {
    return std::string(reinterpret_cast<const char*>(data), size);
}

// Runs f; vkc::Error is the expected way to reject input. Everything else propagates to libFuzzer
// (an uncaught exception aborts, which libFuzzer reports with the input).
template <typename F>
void expect_ok_or_error(F&& f) {
    try {
        f();
    } catch (const vkc::Error&) {
    }
}

} // namespace vkc::fuzz
