// Fault injection for tests: makes the N-th device-memory allocation or queue submission of one
// Context fail as a real driver would (VK_ERROR_OUT_OF_DEVICE_MEMORY, VK_ERROR_DEVICE_LOST), so the
// error paths (weight upload, state allocation, mid-generation, lost device) are exercised on lavapipe.
// Per Context (no process-wide state): armed by $VKCONVGPT_FAULT when the Context is created, or by
// arm() from tests.
//
// $VKCONVGPT_FAULT = item[,item...], item = kind:N (N >= 1, counted from arming):
//   alloc:N        the N-th arena block allocation fails with VK_ERROR_OUT_OF_DEVICE_MEMORY (once)
//   submit:N       the N-th queue submission fails with VK_ERROR_OUT_OF_DEVICE_MEMORY (once)
//   device_lost:N  the N-th queue submission fails with VK_ERROR_DEVICE_LOST, and so does every later
//                  submission and wait of that Context (a lost device stays lost: reload to recover)
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <mutex>
#include <string>

namespace vkc {

enum class FaultKind { alloc, submit, device_lost };

class FaultInjector {
public:
    // Parses a $VKCONVGPT_FAULT spec and arms it; throws Error(invalid_argument) on a bad spec.
    void arm_from_spec(const std::string& spec);
    void arm(FaultKind kind, uint64_t n); // the n-th call of that kind from now fails (n >= 1)
    void disarm();                        // clears armed faults (not a lost device)

    // Hooks called by the runtime right before the real Vulkan call; VK_SUCCESS means "go ahead".
    VkResult on_alloc();
    VkResult on_submit();
    VkResult on_wait() const; // VK_ERROR_DEVICE_LOST once a device loss was injected

    bool lost() const;
    uint64_t allocs() const;  // calls seen (for tests that pick N)
    uint64_t submits() const;

private:
    mutable std::mutex mu_;
    uint64_t allocs_ = 0, submits_ = 0;
    uint64_t alloc_at_ = 0, submit_at_ = 0, lost_at_ = 0; // absolute call numbers; 0 = not armed
    bool lost_ = false;
};

} // namespace vkc
