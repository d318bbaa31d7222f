#include "runtime/fault.h"

#include <cstdlib>
#include <sstream>

#include "runtime/status.h"

namespace vkc {

void FaultInjector::arm_from_spec(const std::string& spec) {
    std::stringstream ss(spec);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (item.empty()) continue;
        size_t c = item.find(':');
        std::string kind = item.substr(0, c);
        char* end = nullptr;
        const char* num = c == std::string::npos ? "" : item.c_str() + c + 1;
        unsigned long long n = std::strtoull(num, &end, 10);
        if (!*num || *end || n == 0)
            fail(Status::invalid_argument, "VKCONVGPT_FAULT item '" + item + "' is not kind:N with N >= 1");
        if (kind == "alloc") arm(FaultKind::alloc, n);
        else if (kind == "submit") arm(FaultKind::submit, n);
        else if (kind == "device_lost") arm(FaultKind::device_lost, n);
        else fail(Status::invalid_argument, "VKCONVGPT_FAULT kind '" + kind + "' is not alloc, submit or device_lost");
    }
}

void FaultInjector::arm(FaultKind kind, uint64_t n) {
    if (n == 0) fail(Status::invalid_argument, "fault injection: N must be >= 1");
    std::lock_guard<std::mutex> l(mu_);
    switch (kind) {
    case FaultKind::alloc: alloc_at_ = allocs_ + n; break;
    case FaultKind::submit: submit_at_ = submits_ + n; break;
    case FaultKind::device_lost: lost_at_ = submits_ + n; break;
    }
}

void FaultInjector::disarm() {
    std::lock_guard<std::mutex> l(mu_);
    alloc_at_ = submit_at_ = lost_at_ = 0;
}

VkResult FaultInjector::on_alloc() {
    std::lock_guard<std::mutex> l(mu_);
    ++allocs_;
    if (alloc_at_ && allocs_ == alloc_at_) {
        alloc_at_ = 0;
        return VK_ERROR_OUT_OF_DEVICE_MEMORY;
    }
    return VK_SUCCESS;
}

VkResult FaultInjector::on_submit() {
    std::lock_guard<std::mutex> l(mu_);
    ++submits_;
    if (lost_) return VK_ERROR_DEVICE_LOST;
    if (lost_at_ && submits_ == lost_at_) {
        lost_at_ = 0;
        lost_ = true;
        return VK_ERROR_DEVICE_LOST;
    }
    if (submit_at_ && submits_ == submit_at_) {
        submit_at_ = 0;
        return VK_ERROR_OUT_OF_DEVICE_MEMORY;
    }
    return VK_SUCCESS;
}

VkResult FaultInjector::on_wait() const {
    std::lock_guard<std::mutex> l(mu_);
    return lost_ ? VK_ERROR_DEVICE_LOST : VK_SUCCESS;
}

bool FaultInjector::lost() const {
    std::lock_guard<std::mutex> l(mu_);
    return lost_;
}

uint64_t FaultInjector::allocs() const {
    std::lock_guard<std::mutex> l(mu_);
    return allocs_;
}

uint64_t FaultInjector::submits() const {
    std::lock_guard<std::mutex> l(mu_);
    return submits_;
}

} // namespace vkc
