#include "host/src/stop_filter.h"

#include <algorithm>

namespace vkc {

size_t utf8_invalid_offset(const char* s, size_t n) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(s);
    size_t i = 0;
    while (i < n) {
        const unsigned char c = p[i];
        if (c < 0x80) { ++i; continue; }
        size_t len;
        unsigned char lo = 0x80, hi = 0xBF; // allowed range of the second byte
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c == 0xE0) len = 3, lo = 0xA0;              // no overlongs
        else if (c >= 0xE1 && c <= 0xEC) len = 3;
        else if (c == 0xED) len = 3, hi = 0x9F;              // no surrogates
        else if (c >= 0xEE && c <= 0xEF) len = 3;
        else if (c == 0xF0) len = 4, lo = 0x90;              // no overlongs
        else if (c >= 0xF1 && c <= 0xF3) len = 4;
        else if (c == 0xF4) len = 4, hi = 0x8F;              // <= U+10FFFF
        else return i;
        if (i + len > n) return i;
        if (p[i + 1] < lo || p[i + 1] > hi) return i;
        for (size_t k = 2; k < len; ++k)
            if ((p[i + k] & 0xC0) != 0x80) return i;
        i += len;
    }
    return std::string::npos;
}

std::string StopFilter::push(const std::string& text, bool* stopped) {
    if (stopped_) {
        if (stopped) *stopped = true;
        return "";
    }
    held_ += text;
    // Earliest match of any stop string.
    size_t at = std::string::npos;
    for (const std::string& s : stops_)
        if (!s.empty()) at = std::min(at, held_.find(s));
    if (at != std::string::npos) {
        std::string out = held_.substr(0, at);
        held_.clear();
        stopped_ = true;
        if (stopped) *stopped = true;
        return out;
    }
    // Hold back the longest suffix that is a proper prefix of some stop string.
    size_t hold = 0;
    for (const std::string& s : stops_) {
        if (s.empty()) continue;
        for (size_t k = std::min(s.size() - 1, held_.size()); k > hold; --k) {
            if (held_.compare(held_.size() - k, k, s, 0, k) == 0) {
                hold = k;
                break;
            }
        }
    }
    std::string out = held_.substr(0, held_.size() - hold);
    held_.erase(0, held_.size() - hold);
    if (stopped) *stopped = false;
    return out;
}

std::string StopFilter::flush() {
    std::string out;
    out.swap(held_);
    return out;
}

} // namespace vkc
