#include "host/text/unicode.h"

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "runtime/status.h"

namespace vkc::unidata {
#define VKC_TABLE(name) extern const uint32_t name[]; extern const size_t name##_len;
VKC_TABLE(letter_ranges) VKC_TABLE(number_ranges) VKC_TABLE(ccc_ranges) VKC_TABLE(canon_runs)
VKC_TABLE(canon_multi) VKC_TABLE(compat_runs) VKC_TABLE(compat_multi) VKC_TABLE(compositions)
#undef VKC_TABLE
} // namespace vkc::unidata

namespace vkc::uni {

size_t utf8_seq(const unsigned char* p, size_t n, size_t* subpart) {
    unsigned c = p[0];
    if (c < 0x80) return 1;
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c == 0xE0) { need = 2; lo = 0xA0; }
    else if (c == 0xED) { need = 2; hi = 0x9F; }
    else if (c >= 0xE1 && c <= 0xEF) need = 2;
    else if (c == 0xF0) { need = 3; lo = 0x90; }
    else if (c == 0xF4) { need = 3; hi = 0x8F; }
    else if (c >= 0xF1 && c <= 0xF3) need = 3;
    else { if (subpart) *subpart = 1; return 0; }
    size_t k = 1;
    for (; k <= need && k < n; ++k) {
        unsigned b = p[k];
        if (b < (k == 1 ? lo : 0x80u) || b > (k == 1 ? hi : 0xBFu)) break;
    }
    if (k == need + 1) return need + 1;
    if (subpart) *subpart = k;
    return 0;
}

size_t find_invalid_utf8(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    for (size_t i = 0; i < s.size();) {
        if (p[i] < 0x80) { ++i; continue; }
        size_t n = utf8_seq(p + i, s.size() - i);
        if (n == 0) return i;
        i += n;
    }
    return npos;
}

void require_utf8(std::string_view s, const char* what) {
    size_t at = find_invalid_utf8(s);
    if (at != npos) fail(Status::invalid_argument, std::string(what) + ": invalid UTF-8 at byte " + std::to_string(at));
}

char32_t next_cp(std::string_view s, size_t& i) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) { ++i; return c; }
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    char32_t cp = c & (0x7F >> n);
    for (size_t k = 1; k < n && i + k < s.size(); ++k) cp = (cp << 6) | ((unsigned char)s[i + k] & 0x3F);
    i += n;
    return cp;
}

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) out += (char)cp;
    else if (cp < 0x800) { out += (char)(0xC0 | (cp >> 6)); out += (char)(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) {
        out += (char)(0xE0 | (cp >> 12)); out += (char)(0x80 | ((cp >> 6) & 0x3F)); out += (char)(0x80 | (cp & 0x3F));
    } else {
        out += (char)(0xF0 | (cp >> 18)); out += (char)(0x80 | ((cp >> 12) & 0x3F));
        out += (char)(0x80 | ((cp >> 6) & 0x3F)); out += (char)(0x80 | (cp & 0x3F));
    }
}

std::string lossy_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    for (size_t i = 0; i < s.size();) {
        size_t sub = 1, n = p[i] < 0x80 ? 1 : utf8_seq(p + i, s.size() - i, &sub);
        if (n) { out.append(s.data() + i, n); i += n; }
        else { out += replacement_char; i += sub; }
    }
    return out;
}

namespace {
bool in_ranges(const uint32_t* r, size_t len, char32_t c) { // pairs [first, last]
    size_t lo = 0, hi = len / 2;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r[2 * mid + 1] < c) lo = mid + 1;
        else hi = mid;
    }
    return lo < len / 2 && r[2 * lo] <= c;
}
} // namespace

bool is_letter(char32_t c) {
    if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
    return in_ranges(unidata::letter_ranges, unidata::letter_ranges_len, c);
}

bool is_number(char32_t c) {
    if (c < 0x80) return c >= '0' && c <= '9';
    return in_ranges(unidata::number_ranges, unidata::number_ranges_len, c);
}

bool is_space(char32_t c) {
    if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

// ---- normalization (UAX #15) ----
namespace {
constexpr char32_t SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
constexpr int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

struct NormTables {
    std::vector<char32_t> pool;
    std::unordered_map<char32_t, std::pair<uint32_t, uint32_t>> canon, compat; // cp -> (offset, length)
    std::unordered_map<uint64_t, char32_t> comp;

    void add(std::unordered_map<char32_t, std::pair<uint32_t, uint32_t>>& m, const uint32_t* runs, size_t nruns,
             const uint32_t* multi, size_t nmulti) {
        for (size_t i = 0; i + 2 < nruns; i += 3)
            for (uint32_t k = 0; k < runs[i + 1]; ++k) {
                m[runs[i] + k] = {(uint32_t)pool.size(), 1};
                pool.push_back(runs[i + 2] + k);
            }
        for (size_t i = 0; i < nmulti;) {
            uint32_t cp = multi[i], n = multi[i + 1];
            m[cp] = {(uint32_t)pool.size(), n};
            pool.insert(pool.end(), multi + i + 2, multi + i + 2 + n);
            i += 2 + n;
        }
    }
    NormTables() {
        using namespace unidata;
        add(canon, canon_runs, canon_runs_len, canon_multi, canon_multi_len);
        add(compat, compat_runs, compat_runs_len, compat_multi, compat_multi_len);
        for (size_t i = 0; i + 2 < compositions_len; i += 3)
            comp[((uint64_t)compositions[i] << 32) | compositions[i + 1]] = compositions[i + 2];
    }
};

const NormTables& tables() {
    static const NormTables t;
    return t;
}

int ccc(char32_t c) {
    if (c < 0x300) return 0;
    const uint32_t* r = unidata::ccc_ranges;
    size_t lo = 0, hi = unidata::ccc_ranges_len / 3;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r[3 * mid + 1] < c) lo = mid + 1;
        else hi = mid;
    }
    return lo < unidata::ccc_ranges_len / 3 && r[3 * lo] <= c ? (int)r[3 * lo + 2] : 0;
}

void decompose(char32_t c, bool compat, const NormTables& t, std::vector<char32_t>& out) {
    if (c >= SBase && c < SBase + SCount) {
        int s = (int)(c - SBase);
        out.push_back(LBase + s / NCount);
        out.push_back(VBase + (s % NCount) / TCount);
        if (s % TCount) out.push_back(TBase + s % TCount);
        return;
    }
    if (compat) {
        auto it = t.compat.find(c);
        if (it != t.compat.end()) {
            out.insert(out.end(), t.pool.begin() + it->second.first, t.pool.begin() + it->second.first + it->second.second);
            return;
        }
    }
    auto it = t.canon.find(c);
    if (it != t.canon.end())
        out.insert(out.end(), t.pool.begin() + it->second.first, t.pool.begin() + it->second.first + it->second.second);
    else
        out.push_back(c);
}

char32_t compose_pair(char32_t a, char32_t b, const NormTables& t) {
    if (a >= LBase && a < LBase + LCount && b >= VBase && b < VBase + VCount)
        return SBase + ((a - LBase) * VCount + (b - VBase)) * TCount;
    if (a >= SBase && a < SBase + SCount && (a - SBase) % TCount == 0 && b > TBase && b < TBase + TCount)
        return a + (b - TBase);
    auto it = t.comp.find(((uint64_t)a << 32) | b);
    return it == t.comp.end() ? 0 : it->second;
}
} // namespace

std::string normalize(std::string_view s, NormForm form) {
    bool ascii = std::all_of(s.begin(), s.end(), [](char c) { return (unsigned char)c < 0x80; });
    if (ascii) return std::string(s);
    const NormTables& t = tables();
    bool compat = form == NormForm::nfkc || form == NormForm::nfkd;
    std::vector<char32_t> cps;
    cps.reserve(s.size());
    for (size_t i = 0; i < s.size();) decompose(next_cp(s, i), compat, t, cps);
    // Canonical ordering: stable sort of each run of non-starters by combining class.
    for (size_t i = 1; i < cps.size(); ++i) {
        int ci = ccc(cps[i]);
        if (ci == 0) continue;
        for (size_t j = i; j > 0 && ccc(cps[j - 1]) > ci; --j) std::swap(cps[j], cps[j - 1]);
    }
    if (form == NormForm::nfc || form == NormForm::nfkc) {
        size_t out = 0, starter = 0;
        bool have_starter = false;
        int last = 0;
        for (size_t i = 0; i < cps.size(); ++i) {
            char32_t c = cps[i];
            int cc = ccc(c);
            if (have_starter && (last < cc || (last == 0 && out == starter + 1))) {
                if (char32_t m = compose_pair(cps[starter], c, t)) { cps[starter] = m; continue; }
            }
            if (cc == 0) { starter = out; have_starter = true; }
            last = cc;
            cps[out++] = c;
        }
        cps.resize(out);
    }
    std::string r;
    r.reserve(s.size());
    for (char32_t c : cps) append_utf8(r, c);
    return r;
}

} // namespace vkc::uni
