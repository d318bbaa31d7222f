// Pre-tokenizer regexes as hand-coded scanners, the byte-level alphabet and added-token matching.
#include <algorithm>

#include "host/text/text_internal.h"
#include "host/text/unicode.h"

namespace vkc::text {

bool recognize_regex(const std::string& p, RegexKind* kind) {
    static const char* gpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
    static const char* qwen2 =
        R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
    static const char* llama3 =
        R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
    if (p == gpt2) *kind = RegexKind::gpt2;
    else if (p == qwen2) *kind = RegexKind::qwen2;
    else if (p == llama3) *kind = RegexKind::llama3;
    else return false;
    return true;
}

namespace {
enum Cls : uint8_t { L, N, S, O }; // letter, number, White_Space, anything else

Cls classify(char32_t c) {
    if (uni::is_letter(c)) return L;
    if (uni::is_number(c)) return N;
    if (uni::is_space(c)) return S;
    return O;
}

// Length (in code points) of a contraction 's 't 're 've 'm 'll 'd at i, 0 if none.
size_t contraction(const std::vector<char32_t>& c, size_t i, bool fold) {
    if (c[i] != '\'' || i + 1 >= c.size()) return 0;
    auto low = [&](char32_t x) -> char32_t {
        if (!fold) return x;
        if (x == 0x17F) return 's'; // LATIN SMALL LETTER LONG S folds to s
        return x < 0x80 && x >= 'A' && x <= 'Z' ? x + 32 : x;
    };
    char32_t a = low(c[i + 1]);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (i + 2 >= c.size()) return 0;
    char32_t b = low(c[i + 2]);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}
} // namespace

std::vector<std::pair<size_t, size_t>> regex_matches(std::string_view s, RegexKind kind) {
    std::vector<char32_t> c;
    std::vector<size_t> off;
    for (size_t i = 0; i < s.size();) {
        off.push_back(i);
        c.push_back(uni::next_cp(s, i));
    }
    const size_t n = c.size();
    off.push_back(s.size());
    std::vector<Cls> k(n);
    for (size_t i = 0; i < n; ++i) k[i] = classify(c[i]);
    auto run = [&](size_t j, Cls cls) { while (j < n && k[j] == cls) ++j; return j; };
    auto crlf = [&](size_t j) { return c[j] == '\r' || c[j] == '\n'; };

    std::vector<std::pair<size_t, size_t>> out;
    const bool gpt2 = kind == RegexKind::gpt2;
    const size_t max_digits = kind == RegexKind::llama3 ? 3 : kind == RegexKind::qwen2 ? 1 : SIZE_MAX;
    size_t i = 0;
    while (i < n) {
        size_t end = 0;
        bool next_ok = i + 1 < n;
        if (size_t m = contraction(c, i, !gpt2)) {
            end = i + m;
        } else if (gpt2) {
            // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+'
            size_t st = (c[i] == ' ' && next_ok && k[i + 1] != S) ? i + 1 : i;
            if (k[st] != S) end = run(st, k[st]);
        } else {
            // '[^\r\n\p{L}\p{N}]?\p{L}+'
            if (k[i] == L) end = run(i, L);
            else if (k[i] != N && !crlf(i) && next_ok && k[i + 1] == L) end = run(i + 1, L);
            // '\p{N}' / '\p{N}{1,3}'
            else if (k[i] == N) end = std::min(run(i, N), i + max_digits);
            else {
                // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
                size_t st = (c[i] == ' ' && next_ok && k[i + 1] == O) ? i + 1 : i;
                if (k[st] == O) {
                    end = run(st, O);
                    while (end < n && crlf(end)) ++end;
                } else {
                    // '\s*[\r\n]+': the whitespace run up to its last CR/LF
                    size_t j = run(i, S);
                    for (size_t q = j; q > i; --q)
                        if (crlf(q - 1)) { end = q; break; }
                }
            }
        }
        if (end == 0) {
            // '\s+(?!\S)|\s+' (k[i] == S here)
            size_t j = run(i, S);
            end = (j == n || j - i == 1) ? j : j - 1;
        }
        out.emplace_back(off[i], off[end]);
        i = end;
    }
    return out;
}

// ---- byte-level alphabet ----
namespace {
struct ByteMap {
    std::array<std::string, 256> chars;
    std::array<char32_t, 256> cps{};
    ByteMap() {
        int extra = 0;
        for (int b = 0; b < 256; ++b) {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            cps[b] = printable ? (char32_t)b : (char32_t)(256 + extra++);
            uni::append_utf8(chars[b], cps[b]);
        }
    }
};
const ByteMap& byte_map() {
    static const ByteMap m;
    return m;
}
} // namespace

const std::string& byte_char(uint8_t b) { return byte_map().chars[b]; }

int char_byte(char32_t c) {
    if (c < 0x100) {
        bool printable = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
        return printable ? (int)c : -1;
    }
    const auto& cps = byte_map().cps;
    if (c >= 0x100 && c < 0x100 + 68)
        for (int b = 0; b < 256; ++b)
            if (cps[b] == c) return b;
    return -1;
}

// ---- added tokens ----
void AddedMatcher::add(const AddedToken* tok) {
    if (tok->content.empty()) return;
    int at = 0;
    for (unsigned char ch : tok->content) {
        int next = -1;
        for (auto& [k, v] : nodes_[at].kids)
            if (k == ch) { next = v; break; }
        if (next < 0) {
            next = (int)nodes_.size();
            nodes_[at].kids.emplace_back(ch, next);
            nodes_.emplace_back();
        }
        at = next;
    }
    nodes_[at].tok = tok;
}

namespace {
char32_t last_cp(std::string_view s, size_t* start) {
    size_t i = s.size();
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) --i;
    if (i > 0) --i;
    *start = i;
    size_t j = i;
    return uni::next_cp(s, j);
}
bool is_word(char32_t c) { return uni::is_letter(c) || uni::is_number(c); }
} // namespace

std::vector<AddedMatcher::Piece> AddedMatcher::split(std::string_view s) const {
    std::vector<Piece> out;
    size_t done = 0; // end of the last emitted piece
    size_t i = 0;
    while (i < s.size()) {
        // longest token starting at i
        int at = 0;
        const AddedToken* best = nullptr;
        size_t best_end = 0;
        for (size_t j = i; j < s.size(); ++j) {
            int next = -1;
            for (auto& [k, v] : nodes_[at].kids)
                if (k == (unsigned char)s[j]) { next = v; break; }
            if (next < 0) break;
            at = next;
            if (nodes_[at].tok) { best = nodes_[at].tok; best_end = j + 1; }
        }
        if (!best) { ++i; continue; }
        size_t start = i, stop = best_end;
        i = best_end;
        if (best->single_word) {
            size_t p;
            bool start_ok = start == 0 || !is_word(last_cp(s.substr(0, start), &p));
            size_t q = stop;
            bool stop_ok = stop == s.size() || !is_word(uni::next_cp(s, q));
            if (!start_ok || !stop_ok) continue;
        }
        if (best->lstrip) {
            size_t ns = start;
            while (ns > 0) {
                size_t p;
                if (!uni::is_space(last_cp(s.substr(0, ns), &p))) break;
                ns = p;
            }
            start = std::max(ns, done);
        }
        if (best->rstrip) {
            while (stop < s.size()) {
                size_t q = stop;
                if (!uni::is_space(uni::next_cp(s, q))) break;
                stop = q;
            }
        }
        if (done < start) out.push_back({done, start, nullptr});
        out.push_back({start, stop, best});
        done = stop;
        i = std::max(i, stop);
    }
    if (done < s.size()) out.push_back({done, s.size(), nullptr});
    return out;
}

} // namespace vkc::text
