// BPE model as in Hugging Face tokenizers: per-character symbols (unknown characters as byte-fallback
// <0xNN> tokens or a possibly fused unk), then merges applied lowest rank first, leftmost first, with a
// priority queue (O(n log n) per word) and a word cache.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <queue>

#include "host/text/text_internal.h"
#include "host/text/unicode.h"
#include "runtime/status.h"

namespace vkc::text {

namespace {
constexpr size_t cache_max_word = 256;  // bytes; longer words are not cached
constexpr size_t cache_max_entries = 1 << 16;
uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }
std::string str_or_empty(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
} // namespace

int32_t json_token_id(const nlohmann::json& v, const std::string& what) {
    if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0) ||
        v.get<uint64_t>() >= (1u << 24))
        fail(Status::invalid_model, "tokenizer.json: " + what + " is not a token id (an integer in [0, 2^24))");
    return (int32_t)v.get<int64_t>();
}

void Bpe::load(const nlohmann::json& m) {
    if (!m.contains("vocab") || !m["vocab"].is_object()) fail(Status::invalid_model, "tokenizer.json: BPE model without vocab");
    int32_t max_id = -1;
    for (auto it = m["vocab"].begin(); it != m["vocab"].end(); ++it) {
        const int32_t id = json_token_id(it.value(), "the id of token " + it.key());
        vocab_[it.key()] = id;
        max_id = std::max(max_id, id);
    }
    id_to_token_.assign(max_id + 1, std::string());
    assigned_.assign(max_id + 1, false);
    for (auto& [tok, id] : vocab_) { id_to_token_[id] = tok; assigned_[id] = true; }

    if (m.contains("dropout") && m["dropout"].is_number() && m["dropout"].get<double>() > 0)
        fail(Status::unsupported, "tokenizer.json: BPE dropout is not supported");
    prefix_ = str_or_empty(m, "continuing_subword_prefix");
    suffix_ = str_or_empty(m, "end_of_word_suffix");
    fuse_unk_ = m.value("fuse_unk", false);
    byte_fallback_ = m.value("byte_fallback", false);
    ignore_merges_ = m.value("ignore_merges", false);
    std::string unk = str_or_empty(m, "unk_token");
    if (!unk.empty()) {
        unk_ = token_id(unk);
        if (unk_ < 0) fail(Status::invalid_model, "tokenizer.json: unk_token '" + unk + "' is not in the vocab");
    }
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        byte_ids_[b] = token_id(name);
    }

    int32_t rank = 0;
    for (const auto& mj : m.value("merges", nlohmann::json::array())) {
        std::string a, b;
        if (mj.is_string()) {
            const std::string s = mj.get<std::string>();
            size_t sp = s.find(' ');
            if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
                fail(Status::invalid_model, "tokenizer.json: bad merge '" + s + "'");
            a = s.substr(0, sp);
            b = s.substr(sp + 1);
        } else if (mj.is_array() && mj.size() == 2) {
            a = mj[0].get<std::string>();
            b = mj[1].get<std::string>();
        } else {
            fail(Status::invalid_model, "tokenizer.json: bad merge entry " + mj.dump());
        }
        int32_t ia = token_id(a), ib = token_id(b), im = token_id(a + b);
        if (ia < 0 || ib < 0 || im < 0)
            fail(Status::invalid_model, "tokenizer.json: merge '" + a + " " + b + "' uses a token outside the vocab");
        merges_[pair_key(ia, ib)] = {rank++, im};
    }
}

int32_t Bpe::token_id(std::string_view tok) const {
    auto it = vocab_.find(std::string(tok));
    return it == vocab_.end() ? -1 : it->second;
}

const std::string* Bpe::token(int32_t id) const {
    return id >= 0 && id < size() && assigned_[id] ? &id_to_token_[id] : nullptr;
}

void Bpe::encode_word(std::string_view word, std::vector<int32_t>& out) const {
    if (word.empty()) return;
    if (ignore_merges_) {
        int32_t id = token_id(word);
        if (id >= 0) { out.push_back(id); return; }
    }
    const bool cacheable = word.size() <= cache_max_word;
    if (cacheable) {
        std::lock_guard<std::mutex> lock(cache_mu_);
        auto it = cache_.find(std::string(word));
        if (it != cache_.end()) { out.insert(out.end(), it->second.begin(), it->second.end()); return; }
    }
    std::vector<int32_t> ids;
    merge_word(word, ids);
    out.insert(out.end(), ids.begin(), ids.end());
    if (cacheable) {
        std::lock_guard<std::mutex> lock(cache_mu_);
        if (cache_.size() >= cache_max_entries) cache_.clear();
        cache_.emplace(std::string(word), std::move(ids));
    }
}

void Bpe::merge_word(std::string_view w, std::vector<int32_t>& out) const {
    struct Sym {
        int32_t id;
        int prev, next;
        bool alive;
    };
    std::vector<Sym> syms;
    syms.reserve(w.size());
    auto push = [&](int32_t id) { syms.push_back({id, (int)syms.size() - 1, (int)syms.size() + 1, true}); };
    int32_t pending_unk = -1; // an unk waiting to be emitted (fused over consecutive unknown chars)
    std::string piece;
    for (size_t i = 0; i < w.size();) {
        size_t start = i;
        uni::next_cp(w, i);
        piece.assign(w.substr(start, i - start));
        if (start > 0 && !prefix_.empty()) piece = prefix_ + piece;
        if (i == w.size() && !suffix_.empty()) piece += suffix_;
        int32_t id = token_id(piece);
        if (id >= 0) {
            if (pending_unk >= 0) { push(pending_unk); pending_unk = -1; }
            push(id);
            continue;
        }
        if (byte_fallback_) {
            bool all = true;
            for (unsigned char b : piece) all &= byte_ids_[b] >= 0;
            if (all) {
                // HF keeps a pending unk across byte-fallback pieces; emitted at the next known char
                for (unsigned char b : piece) push(byte_ids_[b]);
                continue;
            }
        }
        if (unk_ >= 0) {
            if (pending_unk >= 0 && !fuse_unk_) push(pending_unk);
            pending_unk = unk_;
        }
    }
    if (pending_unk >= 0) push(pending_unk);
    if (syms.empty()) return;
    syms.back().next = -1;

    struct Merge {
        int32_t rank;
        int pos;
        int32_t id;
        bool operator<(const Merge& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<Merge> q;
    auto find = [&](int32_t a, int32_t b) -> const std::pair<int32_t, int32_t>* {
        auto it = merges_.find(pair_key(a, b));
        return it == merges_.end() ? nullptr : &it->second;
    };
    for (size_t i = 0; i + 1 < syms.size(); ++i)
        if (auto m = find(syms[i].id, syms[i + 1].id)) q.push({m->first, (int)i, m->second});
    while (!q.empty()) {
        Merge top = q.top();
        q.pop();
        Sym& s = syms[top.pos];
        if (!s.alive || s.next < 0) continue;
        Sym& right = syms[s.next];
        auto m = find(s.id, right.id);
        if (!m || m->second != top.id) continue; // stale entry
        s.id = top.id;
        right.alive = false;
        s.next = right.next;
        if (s.next >= 0) syms[s.next].prev = top.pos;
        if (s.prev >= 0)
            if (auto mp = find(syms[s.prev].id, s.id)) q.push({mp->first, s.prev, mp->second});
        if (s.next >= 0)
            if (auto mn = find(s.id, syms[s.next].id)) q.push({mn->first, top.pos, mn->second});
    }
    for (const Sym& s : syms)
        if (s.alive) out.push_back(s.id);
}

} // namespace vkc::text
