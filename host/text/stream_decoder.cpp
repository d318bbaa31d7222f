// Streaming detokenizer. Keeps a window of ids: ids_[0, read_) were already shown and serve as context;
// each push decodes the window with and without the shown part and emits the difference once it no
// longer ends in U+FFFD (an unfinished UTF-8 sequence). The window begins at the first token (at_start_)
// or at a token boundary after complete text, where decode_part(..., at_start=false) continues exactly.
#include "host/text/tokenizer.h"

namespace vkc {

namespace {
bool ends_with_replacement(const std::string& s) {
    return s.size() >= 3 && s.compare(s.size() - 3, 3, "\xEF\xBF\xBD") == 0;
}
} // namespace

std::string StreamDecoder::emit(bool final) {
    std::vector<int32_t> shown(ids_.begin(), ids_.begin() + read_);
    std::string before = tok_.decode_part(shown, skip_special_, at_start_);
    std::string all = tok_.decode_part(ids_, skip_special_, at_start_);
    if (!final && (all.size() <= before.size() || ends_with_replacement(all))) return "";
    size_t common = 0;
    if (all.compare(0, before.size(), before) == 0) {
        common = before.size();
    } else { // a byte run turned invalid after part of it was shown: emit past the common prefix
        while (common < before.size() && common < all.size() && before[common] == all[common]) ++common;
        while (common > 0 && common < all.size() && ((unsigned char)all[common] & 0xC0) == 0x80) --common;
    }
    std::string out = all.substr(common);
    ids_.erase(ids_.begin(), ids_.begin() + read_);
    if (read_ > 0) at_start_ = false;
    read_ = ids_.size();
    return out;
}

std::string StreamDecoder::push(int32_t id) {
    if (skip_special_ && tok_.is_special(id)) return "";
    ids_.push_back(id);
    return emit(false);
}

std::string StreamDecoder::flush() {
    std::string out = ids_.size() > read_ ? emit(true) : std::string();
    reset();
    return out;
}

void StreamDecoder::reset() {
    ids_.clear();
    read_ = 0;
    at_start_ = true;
}

} // namespace vkc
