// UTF-8 and Unicode helpers for the tokenizers (internal to host/text).
// Character data: host/text/unicode_data.cpp, generated from Python's unicodedata (Unicode 14) by
// host/text/gen_unicode_data.py. Covers General_Category L* / N*, White_Space, canonical combining
// classes, full canonical and compatibility decompositions, canonical compositions (NFC/NFD/NFKC/NFKD).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vkc::uni {

constexpr size_t npos = std::string_view::npos;

// Length of the valid UTF-8 sequence at p[0..n) (Unicode table 3-7: no overlongs, surrogates or
// values past U+10FFFF), or 0 when invalid; then *subpart = length of its maximal valid prefix (>= 1).
size_t utf8_seq(const unsigned char* p, size_t n, size_t* subpart = nullptr);
// Byte offset of the first invalid byte, or npos.
size_t find_invalid_utf8(std::string_view s);
// Throws Error(invalid_argument, "<what>: invalid UTF-8 at byte N").
void require_utf8(std::string_view s, const char* what);
// Decodes the code point at s[i] of a valid UTF-8 string and advances i.
char32_t next_cp(std::string_view s, size_t& i);
void append_utf8(std::string& out, char32_t cp);
// As Rust's String::from_utf8_lossy: each maximal invalid subpart becomes one U+FFFD.
std::string lossy_utf8(std::string_view bytes);
inline constexpr const char* replacement_char = "\xEF\xBF\xBD";

bool is_letter(char32_t c); // \p{L}
bool is_number(char32_t c); // \p{N}
bool is_space(char32_t c);  // White_Space (= \s of Oniguruma / Rust char::is_whitespace)

enum class NormForm { nfc, nfd, nfkc, nfkd };
// s must be valid UTF-8.
std::string normalize(std::string_view s, NormForm form);

} // namespace vkc::uni
