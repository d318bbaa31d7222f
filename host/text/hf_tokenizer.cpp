// Hugging Face tokenizer.json with a BPE model: added tokens -> normalizer -> pre-tokenizer -> BPE, and
// the decoder chain, following the tokenizers library (Rust) step by step.
// Supported: normalizers NFC/NFD/NFKC/NFKD, Prepend, Replace (string pattern), Strip, Sequence;
// pre-tokenizers ByteLevel, Split (string pattern, or the GPT-2 / Qwen2 / Llama-3 regex), Metaspace,
// Digits, Sequence; decoders ByteLevel, Metaspace, Replace (string), ByteFallback, Fuse, Strip, Sequence;
// post-processors TemplateProcessing (one special token before / after $A), Roberta/Bert, ByteLevel.
// Anything else fails at load with Error(unsupported) naming it.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "host/text/text_internal.h"
#include "host/text/tokenizer.h"
#include "host/text/tokenizer_load.h"
#include "host/text/unicode.h"
#include "runtime/status.h"

namespace vkc {
namespace {
using nlohmann::json;
using text::AddedMatcher;
using text::AddedToken;

[[noreturn]] void unsupported(const std::string& what) { fail(Status::unsupported, "tokenizer.json: " + what + " is not supported"); }

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    if (from.empty()) return s;
    std::string out;
    size_t i = 0;
    for (size_t at; (at = s.find(from, i)) != std::string::npos; i = at + from.size()) out.append(s, i, at - i).append(to);
    return out.append(s, i, std::string::npos);
}

std::string string_pattern(const json& p, const char* where) {
    if (p.contains("String")) return p["String"].get<std::string>();
    unsupported(std::string(where) + " with a regex pattern " + p.dump());
}

enum class Behavior { removed, isolated, merged_prev, merged_next, contiguous };

Behavior parse_behavior(const json& j) {
    std::string b = j.value("behavior", "Isolated");
    if (b == "Removed") return Behavior::removed;
    if (b == "Isolated") return Behavior::isolated;
    if (b == "MergedWithPrevious") return Behavior::merged_prev;
    if (b == "MergedWithNext") return Behavior::merged_next;
    if (b == "Contiguous") return Behavior::contiguous;
    unsupported("split behavior " + b);
}

// Segments [start, end) of s covering it, matches flagged; then merged as `b` says (HF's split()).
std::vector<std::pair<size_t, size_t>> apply_behavior(size_t len, const std::vector<std::pair<size_t, size_t>>& matches,
                                                      Behavior b, bool invert) {
    struct Seg { size_t s, e; bool m; };
    std::vector<Seg> segs;
    size_t at = 0;
    for (auto [s, e] : matches) {
        if (at < s) segs.push_back({at, s, invert});
        segs.push_back({s, e, !invert});
        at = e;
    }
    if (at < len) segs.push_back({at, len, invert});
    std::vector<std::pair<size_t, size_t>> out;
    bool prev = false;
    switch (b) {
    case Behavior::removed:
        for (auto& g : segs) if (!g.m) out.emplace_back(g.s, g.e);
        break;
    case Behavior::isolated:
        for (auto& g : segs) out.emplace_back(g.s, g.e);
        break;
    case Behavior::merged_prev:
        for (auto& g : segs) {
            if (g.m && !prev && !out.empty()) out.back().second = g.e;
            else out.emplace_back(g.s, g.e);
            prev = g.m;
        }
        break;
    case Behavior::merged_next:
        for (size_t i = segs.size(); i-- > 0;) {
            auto& g = segs[i];
            if (g.m && !prev && !out.empty()) out.back().first = g.s;
            else out.emplace_back(g.s, g.e);
            prev = g.m;
        }
        std::reverse(out.begin(), out.end());
        break;
    case Behavior::contiguous:
        for (size_t i = 0; i < segs.size(); ++i) {
            if (i > 0 && segs[i].m == prev && !out.empty()) out.back().second = segs[i].e;
            else out.emplace_back(segs[i].s, segs[i].e);
            prev = segs[i].m;
        }
        break;
    }
    return out;
}

struct NormStep {
    enum Kind { form, prepend, replace, strip } kind;
    uni::NormForm nf = uni::NormForm::nfc;
    std::string a, b;
    bool left = false, right = false;
};

enum class Prepend { always, first, never };

Prepend parse_prepend(const json& j) {
    if (j.contains("prepend_scheme")) {
        std::string s = j["prepend_scheme"].get<std::string>();
        if (s == "always") return Prepend::always;
        if (s == "first") return Prepend::first;
        if (s == "never") return Prepend::never;
        unsupported("prepend_scheme " + s);
    }
    return j.value("add_prefix_space", true) ? Prepend::always : Prepend::never;
}

struct PreStep {
    enum Kind { byte_level, split_regex, split_string, metaspace, digits } kind;
    bool add_prefix_space = false, use_regex = true, invert = false, split = true, individual = false;
    text::RegexKind regex = text::RegexKind::gpt2;
    std::string str; // Split pattern or Metaspace replacement
    Behavior behavior = Behavior::isolated;
    Prepend prepend = Prepend::always;
};

struct DecStep {
    enum Kind { byte_level, metaspace, replace, byte_fallback, fuse, strip } kind;
    std::string a, b; // Metaspace replacement; Replace pattern -> content; Strip content
    bool strip_first = true;
    size_t start = 0, stop = 0;
};

struct Piece {
    std::string s;
    bool at_origin; // starts at byte 0 of the original text (Metaspace prepend_scheme "first")
};

class HfTokenizer final : public Tokenizer {
public:
    explicit HfTokenizer(const json& j);
    std::vector<int32_t> encode(const std::string& text, bool add_special) const override;
    std::string decode(const std::vector<int32_t>& ids, bool skip_special) const override {
        return decode_part(ids, skip_special, true);
    }
    std::string token_bytes(int32_t id) const override;
    int32_t vocab_size() const override { return vocab_size_; }
    bool is_special(int32_t id) const override {
        auto it = added_by_id_.find(id);
        return it != added_by_id_.end() && it->second->special;
    }
    int32_t token_to_id(const std::string& t) const override {
        for (const auto& a : added_)
            if (a.content == t) return a.id;
        return bpe_.token_id(t);
    }
    std::string id_to_token(int32_t id) const override {
        const std::string* t = token_str(id);
        return t ? *t : std::string();
    }

protected:
    std::string decode_part(const std::vector<int32_t>& ids, bool skip_special, bool at_start) const override;

private:
    void parse_normalizer(const json& j);
    void parse_pre(const json& j);
    void parse_decoder(const json& j);
    void parse_post(const json& j);
    std::string normalize(std::string s) const;
    void pre_tokenize(std::vector<Piece>& pieces) const;
    const std::string* token_str(int32_t id) const {
        auto it = added_by_id_.find(id);
        return it != added_by_id_.end() ? &it->second->content : bpe_.token(id);
    }
    std::string run_decoders(std::vector<std::string> toks, bool at_start, bool raw) const;

    text::Bpe bpe_;
    std::vector<AddedToken> added_;
    std::unordered_map<int32_t, const AddedToken*> added_by_id_;
    AddedMatcher raw_matcher_, norm_matcher_;
    std::vector<NormStep> norm_;
    std::vector<PreStep> pre_;
    std::vector<DecStep> dec_;
    bool has_decoder_ = false;
    int32_t vocab_size_ = 0;
};

HfTokenizer::HfTokenizer(const json& j) {
    const json& m = j.at("model");
    std::string type = m.value("type", m.contains("merges") ? "BPE" : "");
    if (type != "BPE") unsupported("model type '" + type + "' (only BPE)");
    bpe_.load(m);
    vocab_size_ = bpe_.size();
    if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
        for (const auto& a : j["added_tokens"]) {
            AddedToken t;
            t.id = text::json_token_id(a.at("id"), "an added token's id");
            t.content = a.at("content").get<std::string>();
            t.single_word = a.value("single_word", false);
            t.lstrip = a.value("lstrip", false);
            t.rstrip = a.value("rstrip", false);
            t.normalized = a.value("normalized", !a.value("special", false));
            t.special = a.value("special", false);
            if (t.id < 0) fail(Status::invalid_model, "tokenizer.json: negative added token id");
            added_.push_back(t);
            vocab_size_ = std::max(vocab_size_, t.id + 1);
        }
    }
    for (const auto& t : added_) {
        added_by_id_[t.id] = &t;
        (t.normalized ? norm_matcher_ : raw_matcher_).add(&t);
    }
    parse_normalizer(j.value("normalizer", json()));
    parse_pre(j.value("pre_tokenizer", json()));
    parse_decoder(j.value("decoder", json()));
    has_decoder_ = !j.value("decoder", json()).is_null();
    parse_post(j.value("post_processor", json()));
    special_.unk = bpe_.unk_id();
}

void HfTokenizer::parse_normalizer(const json& j) {
    if (j.is_null()) return;
    std::string t = j.at("type").get<std::string>();
    if (t == "Sequence") {
        for (const auto& n : j.at("normalizers")) parse_normalizer(n);
    } else if (t == "NFC" || t == "NFD" || t == "NFKC" || t == "NFKD") {
        NormStep s{NormStep::form};
        s.nf = t == "NFC" ? uni::NormForm::nfc : t == "NFD" ? uni::NormForm::nfd : t == "NFKC" ? uni::NormForm::nfkc : uni::NormForm::nfkd;
        norm_.push_back(s);
    } else if (t == "Prepend") {
        NormStep s{NormStep::prepend};
        s.a = j.at("prepend").get<std::string>();
        norm_.push_back(s);
    } else if (t == "Replace") {
        NormStep s{NormStep::replace};
        s.a = string_pattern(j.at("pattern"), "Replace normalizer");
        s.b = j.at("content").get<std::string>();
        norm_.push_back(s);
    } else if (t == "Strip") {
        NormStep s{NormStep::strip};
        s.left = j.value("strip_left", true);
        s.right = j.value("strip_right", true);
        norm_.push_back(s);
    } else {
        unsupported("normalizer " + t);
    }
}

void HfTokenizer::parse_pre(const json& j) {
    if (j.is_null()) return;
    std::string t = j.at("type").get<std::string>();
    if (t == "Sequence") {
        for (const auto& p : j.at("pretokenizers")) parse_pre(p);
        return;
    }
    PreStep s{PreStep::byte_level};
    if (t == "ByteLevel") {
        s.add_prefix_space = j.value("add_prefix_space", true);
        s.use_regex = j.value("use_regex", true);
    } else if (t == "Split") {
        const json& p = j.at("pattern");
        s.behavior = parse_behavior(j);
        s.invert = j.value("invert", false);
        if (p.contains("Regex")) {
            s.kind = PreStep::split_regex;
            if (!text::recognize_regex(p["Regex"].get<std::string>(), &s.regex))
                unsupported("Split regex " + p["Regex"].dump() + " (known: the GPT-2, Qwen2 and Llama-3 patterns)");
        } else {
            s.kind = PreStep::split_string;
            s.str = string_pattern(p, "Split");
        }
    } else if (t == "Metaspace") {
        s.kind = PreStep::metaspace;
        s.str = j.value("replacement", "\xE2\x96\x81");
        s.prepend = parse_prepend(j);
        s.split = j.value("split", true);
    } else if (t == "Digits") {
        s.kind = PreStep::digits;
        s.individual = j.value("individual_digits", false);
    } else {
        unsupported("pre_tokenizer " + t);
    }
    pre_.push_back(s);
}

void HfTokenizer::parse_decoder(const json& j) {
    if (j.is_null()) return;
    std::string t = j.at("type").get<std::string>();
    DecStep s{DecStep::byte_level};
    if (t == "Sequence") {
        for (const auto& d : j.at("decoders")) parse_decoder(d);
        return;
    } else if (t == "ByteLevel") {
    } else if (t == "Metaspace") {
        s.kind = DecStep::metaspace;
        s.a = j.value("replacement", "\xE2\x96\x81");
        s.strip_first = parse_prepend(j) != Prepend::never;
    } else if (t == "Replace") {
        s.kind = DecStep::replace;
        s.a = string_pattern(j.at("pattern"), "Replace decoder");
        s.b = j.at("content").get<std::string>();
    } else if (t == "ByteFallback") {
        s.kind = DecStep::byte_fallback;
    } else if (t == "Fuse") {
        s.kind = DecStep::fuse;
    } else if (t == "Strip") {
        s.kind = DecStep::strip;
        s.a = j.at("content").get<std::string>();
        s.start = j.value("start", 0);
        s.stop = j.value("stop", 0);
    } else {
        unsupported("decoder " + t);
    }
    dec_.push_back(s);
}

void HfTokenizer::parse_post(const json& j) {
    if (j.is_null()) return;
    std::string t = j.at("type").get<std::string>();
    auto set_bos = [&](int32_t id) { special_.bos = id; special_.add_bos = true; };
    auto set_eos = [&](int32_t id) { special_.eos = id; special_.add_eos = true; };
    if (t == "Sequence") {
        for (const auto& p : j.at("processors")) parse_post(p);
    } else if (t == "TemplateProcessing") {
        std::vector<int32_t> before, after;
        bool seen_a = false;
        for (const auto& item : j.at("single")) {
            if (item.contains("Sequence")) { seen_a = true; continue; }
            std::string name = item.at("SpecialToken").at("id").get<std::string>();
            for (int32_t id : j.at("special_tokens").at(name).at("ids")) (seen_a ? after : before).push_back(id);
        }
        if (before.size() > 1 || after.size() > 1)
            unsupported("TemplateProcessing with more than one special token before or after $A");
        if (!before.empty()) set_bos(before[0]);
        if (!after.empty()) set_eos(after[0]);
    } else if (t == "RobertaProcessing" || t == "BertProcessing") {
        set_bos(text::json_token_id(j.at("cls").at(1), "the cls id"));
        set_eos(text::json_token_id(j.at("sep").at(1), "the sep id"));
    } else if (t != "ByteLevel") {
        unsupported("post_processor " + t);
    }
}

std::string HfTokenizer::normalize(std::string s) const {
    for (const auto& n : norm_) {
        switch (n.kind) {
        case NormStep::form: s = uni::normalize(s, n.nf); break;
        case NormStep::prepend: if (!s.empty()) s = n.a + s; break;
        case NormStep::replace: s = replace_all(s, n.a, n.b); break;
        case NormStep::strip: {
            size_t b = 0, e = s.size();
            if (n.left)
                while (b < e) { size_t q = b; if (!uni::is_space(uni::next_cp(s, q))) break; b = q; }
            if (n.right)
                while (e > b) {
                    size_t p = e - 1;
                    while (p > b && ((unsigned char)s[p] & 0xC0) == 0x80) --p;
                    size_t q = p;
                    if (!uni::is_space(uni::next_cp(s, q))) break;
                    e = p;
                }
            s = s.substr(b, e - b);
            break;
        }
        }
    }
    return s;
}

void HfTokenizer::pre_tokenize(std::vector<Piece>& pieces) const {
    for (const auto& st : pre_) {
        std::vector<Piece> next;
        for (Piece& pc : pieces) {
            std::string& s = pc.s;
            std::vector<std::pair<size_t, size_t>> matches;
            Behavior behavior = st.behavior;
            bool invert = st.invert;
            switch (st.kind) {
            case PreStep::byte_level:
                if (st.add_prefix_space && s[0] != ' ') s.insert(0, " ");
                if (st.use_regex) matches = text::regex_matches(s, text::RegexKind::gpt2);
                else matches = {{0, s.size()}};
                behavior = Behavior::isolated;
                invert = false;
                break;
            case PreStep::split_regex: matches = text::regex_matches(s, st.regex); break;
            case PreStep::split_string:
                for (size_t at = 0; !st.str.empty() && (at = s.find(st.str, at)) != std::string::npos; at += st.str.size())
                    matches.emplace_back(at, at + st.str.size());
                break;
            case PreStep::metaspace: {
                s = replace_all(s, " ", st.str);
                bool starts = s.compare(0, st.str.size(), st.str) == 0;
                if (!starts && (st.prepend == Prepend::always || (st.prepend == Prepend::first && pc.at_origin)))
                    s.insert(0, st.str);
                if (st.split)
                    for (size_t at = 0; (at = s.find(st.str, at)) != std::string::npos; at += st.str.size())
                        matches.emplace_back(at, at + st.str.size());
                else
                    matches = {{0, s.size()}};
                behavior = st.split ? Behavior::merged_next : Behavior::isolated;
                invert = false;
                break;
            }
            case PreStep::digits:
                for (size_t i = 0; i < s.size();) {
                    size_t b = i;
                    if (uni::is_number(uni::next_cp(s, i))) matches.emplace_back(b, i);
                }
                behavior = st.individual ? Behavior::isolated : Behavior::contiguous;
                invert = false;
                break;
            }
            bool first = pc.at_origin;
            for (auto [b, e] : apply_behavior(s.size(), matches, behavior, invert)) {
                if (b == e) continue;
                std::string part = s.substr(b, e - b);
                if (st.kind == PreStep::byte_level) {
                    std::string mapped;
                    for (unsigned char ch : part) mapped += text::byte_char(ch);
                    part = std::move(mapped);
                }
                next.push_back({std::move(part), first && b == 0});
            }
        }
        pieces = std::move(next);
    }
}

std::vector<int32_t> HfTokenizer::encode(const std::string& text, bool add_special) const {
    uni::require_utf8(text, "Tokenizer::encode");
    std::vector<int32_t> ids;
    if (add_special && special_.add_bos && special_.bos >= 0) ids.push_back(special_.bos);
    for (const auto& rp : raw_matcher_.split(text)) {
        if (rp.tok) { ids.push_back(rp.tok->id); continue; }
        std::string norm = normalize(text.substr(rp.start, rp.end - rp.start));
        for (const auto& np : norm_matcher_.split(norm)) {
            if (np.tok) { ids.push_back(np.tok->id); continue; }
            std::vector<Piece> pieces{{norm.substr(np.start, np.end - np.start), rp.start == 0 && np.start == 0}};
            pre_tokenize(pieces);
            for (const auto& p : pieces) bpe_.encode_word(p.s, ids);
        }
    }
    if (add_special && special_.add_eos && special_.eos >= 0) ids.push_back(special_.eos);
    return ids;
}

std::string HfTokenizer::decode_part(const std::vector<int32_t>& ids, bool skip_special, bool at_start) const {
    std::vector<std::string> toks;
    toks.reserve(ids.size());
    for (int32_t id : ids) {
        if (id < 0 || id >= vocab_size_)
            fail(Status::invalid_argument, "decode: token id " + std::to_string(id) + " is outside [0, " + std::to_string(vocab_size_) + ")");
        if (skip_special && is_special(id)) continue;
        if (const std::string* t = token_str(id)) toks.push_back(*t);
    }
    return run_decoders(std::move(toks), at_start, false);
}

std::string HfTokenizer::token_bytes(int32_t id) const {
    const std::string* t = token_str(id);
    if (!t) return "";
    return run_decoders({*t}, false, true);
}

// raw: keep bytes as they are (no U+FFFD substitution), for token_bytes().
std::string HfTokenizer::run_decoders(std::vector<std::string> toks, bool at_start, bool raw) const {
    if (!has_decoder_) {
        std::string out;
        for (size_t i = 0; i < toks.size(); ++i) out += (i ? " " : "") + toks[i];
        return out;
    }
    bool fused = false;
    for (const auto& d : dec_) {
        switch (d.kind) {
        case DecStep::byte_level: {
            std::string bytes;
            for (const auto& t : toks) {
                std::string b;
                bool ok = true;
                for (size_t i = 0; i < t.size() && ok;) {
                    int v = text::char_byte(uni::next_cp(t, i));
                    if (v < 0) ok = false;
                    else b += (char)v;
                }
                bytes += ok ? b : t;
            }
            toks.assign(1, raw ? bytes : uni::lossy_utf8(bytes));
            fused = true;
            break;
        }
        case DecStep::metaspace:
            for (size_t i = 0; i < toks.size(); ++i)
                toks[i] = replace_all(toks[i], d.a, (i == 0 && at_start && d.strip_first) ? "" : " ");
            break;
        case DecStep::replace:
            for (auto& t : toks) t = replace_all(t, d.a, d.b);
            break;
        case DecStep::byte_fallback: {
            std::vector<std::string> out;
            std::string run;
            size_t run_len = 0;
            auto flush = [&] {
                if (!run_len) return;
                if (raw || uni::find_invalid_utf8(run) == uni::npos) out.push_back(run);
                else for (size_t i = 0; i < run_len; ++i) out.push_back(uni::replacement_char);
                run.clear();
                run_len = 0;
            };
            for (auto& t : toks) {
                int byte = -1;
                if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' && std::isxdigit((unsigned char)t[3]) &&
                    std::isxdigit((unsigned char)t[4]))
                    byte = std::stoi(t.substr(3, 2), nullptr, 16);
                if (byte >= 0) { run += (char)byte; ++run_len; continue; }
                flush();
                out.push_back(std::move(t));
            }
            flush();
            toks = std::move(out);
            break;
        }
        case DecStep::fuse: {
            std::string all;
            for (const auto& t : toks) all += t;
            toks.assign(1, all);
            fused = true;
            break;
        }
        case DecStep::strip:
            for (auto& t : toks) {
                size_t b = 0, e = t.size();
                if (at_start || !fused)
                    for (size_t k = 0; k < d.start && t.compare(b, d.a.size(), d.a) == 0 && b < e; ++k) b += d.a.size();
                for (size_t k = 0; k < d.stop && e >= b + d.a.size() && t.compare(e - d.a.size(), d.a.size(), d.a) == 0; ++k)
                    e -= d.a.size();
                t = t.substr(b, e - b);
            }
            break;
        }
    }
    std::string out;
    for (const auto& t : toks) out += t;
    return out;
}

} // namespace

std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) fail(Status::io_error, "cannot open tokenizer file " + path);
    std::stringstream ss;
    ss << f.rdbuf();
    return load_hf_tokenizer_json(ss.str(), path);
}

std::unique_ptr<Tokenizer> load_hf_tokenizer_json(const std::string& json_text, const std::string& where) {
    json j;
    try {
        j = json::parse(json_text);
    } catch (const json::exception& e) {
        fail(Status::invalid_model, where + ": not valid JSON: " + e.what());
    }
    try {
        return std::make_unique<HfTokenizer>(j);
    } catch (const json::exception& e) {
        fail(Status::invalid_model, where + ": unexpected content: " + e.what());
    }
}

} // namespace vkc
