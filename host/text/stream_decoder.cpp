#include "host/text/tokenizer.h"

namespace vkc {

namespace {
// Length of the UTF-8 sequence a lead byte starts (0: not a valid lead byte).
size_t utf8_len(unsigned char c) {
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) return 3;
    if (c >= 0xF0 && c <= 0xF4) return 4;
    return 0;
}

// Moves the longest prefix of `buf` made of complete sequences to the result; invalid bytes become
// U+FFFD; an incomplete tail stays in buf unless `final`.
std::string take_complete(std::string& buf, bool final) {
    std::string out;
    size_t i = 0;
    while (i < buf.size()) {
        size_t n = utf8_len((unsigned char)buf[i]);
        if (n == 0) { out += "\xEF\xBF\xBD"; ++i; continue; }
        if (i + n > buf.size()) {
            bool prefix_ok = true;
            for (size_t j = i + 1; j < buf.size(); ++j) prefix_ok &= ((unsigned char)buf[j] & 0xC0) == 0x80;
            if (prefix_ok && !final) break;
            out += "\xEF\xBF\xBD";
            ++i;
            continue;
        }
        bool ok = true;
        for (size_t j = 1; j < n; ++j) ok &= ((unsigned char)buf[i + j] & 0xC0) == 0x80;
        if (!ok) { out += "\xEF\xBF\xBD"; ++i; continue; }
        out.append(buf, i, n);
        i += n;
    }
    buf.erase(0, i);
    return out;
}
} // namespace

std::string StreamDecoder::push(int32_t id) {
    if (skip_special_ && tok_.is_special(id)) return "";
    pending_ += tok_.token_bytes(id);
    first_ = false;
    return take_complete(pending_, false);
}

std::string StreamDecoder::flush() { return take_complete(pending_, true); }

} // namespace vkc
