// Streaming stop-string filter used by vkc_generate, and a UTF-8 validator.
//
// Text arrives in pieces (complete UTF-8 from vkc::StreamDecoder); a stop string may span pieces. The
// filter releases text only once it cannot be the start of a stop string, holds back the longest
// suffix that is a prefix of some stop string, and on a match releases the text before the match and
// drops the rest. Held-back text starts where a stop string would start, so released text is always
// complete UTF-8.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace vkc {

// Byte offset of the first invalid UTF-8 byte (overlongs, surrogates, > U+10FFFF, truncation), or
// std::string::npos when the text is valid.
size_t utf8_invalid_offset(const char* s, size_t n);

class StopFilter {
public:
    explicit StopFilter(std::vector<std::string> stops) : stops_(std::move(stops)) {}
    // Appends text; returns the text now safe to release. Sets *stopped on a match (then the filter is
    // done: later calls return "").
    std::string push(const std::string& text, bool* stopped);
    // End of generation: the held-back text (it matched no stop string).
    std::string flush();
    bool stopped() const { return stopped_; }

private:
    std::vector<std::string> stops_;
    std::string held_;
    bool stopped_ = false;
};

} // namespace vkc
