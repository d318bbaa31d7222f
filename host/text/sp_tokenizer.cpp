// SentencePiece .model files through libsentencepiece. Control pieces (<s>, </s>), the unk piece and
// tokenizer_config.json's added tokens are matched in the text first (as transformers does); the text
// between them goes to SentencePieceProcessor::Encode. Decoding is SentencePiece's, with special
// tokens shown as their text when not skipped.
#include <sentencepiece_processor.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <unordered_map>

#include "host/text/text_internal.h"
#include "host/text/tokenizer_load.h"
#include "host/text/unicode.h"
#include "runtime/status.h"

namespace vkc {
namespace {
using text::AddedToken;

int piece_byte(const std::string& p) { // "<0xNN>" -> NN
    if (p.size() != 6 || p.compare(0, 3, "<0x") != 0 || p[5] != '>') return -1;
    return (int)std::strtol(p.substr(3, 2).c_str(), nullptr, 16);
}

class SpTokenizer final : public Tokenizer {
public:
    SpTokenizer(const std::string& path, const std::vector<AddedToken>& extra) {
        auto st = sp_.Load(path);
        if (!st.ok()) {
            bool exists = std::filesystem::exists(path);
            fail(exists ? Status::invalid_model : Status::io_error, "cannot load SentencePiece model " + path + ": " + st.ToString());
        }
        n_ = sp_.GetPieceSize();
        vocab_size_ = n_;
        for (int id = 0; id < n_; ++id)
            if (sp_.IsControl(id) || sp_.IsUnknown(id)) added_.push_back({id, sp_.IdToPiece(id), false, false, false, false, true});
        for (const auto& t : extra) {
            if (t.id < 0) continue;
            if (t.id < n_ && sp_.IdToPiece(t.id) != t.content) continue; // not this model's piece: ignore
            added_.push_back(t);
            vocab_size_ = std::max(vocab_size_, t.id + 1);
        }
        for (const auto& t : added_) {
            added_by_id_[t.id] = &t;
            matcher_.add(&t);
        }
        for (int id = 0; id < n_ && sentinel_ < 0; ++id) {
            const std::string& p = sp_.IdToPiece(id);
            if (p.size() == 1 && std::isalpha((unsigned char)p[0]) && !sp_.IsControl(id) && !sp_.IsUnknown(id) &&
                !sp_.IsUnused(id) && !sp_.IsByte(id))
                sentinel_ = id;
        }
        special_.bos = sp_.bos_id();
        special_.eos = sp_.eos_id();
        special_.pad = sp_.pad_id();
        special_.unk = sp_.unk_id();
    }

    std::vector<int32_t> encode(const std::string& text, bool add_special) const override {
        uni::require_utf8(text, "Tokenizer::encode");
        std::vector<int32_t> ids;
        if (add_special && special_.add_bos && special_.bos >= 0) ids.push_back(special_.bos);
        for (const auto& p : matcher_.split(text)) {
            if (p.tok) { ids.push_back(p.tok->id); continue; }
            std::vector<int> part;
            auto st = sp_.Encode(std::string_view(text).substr(p.start, p.end - p.start), &part);
            if (!st.ok()) fail(Status::internal, "SentencePiece encode failed: " + st.ToString());
            ids.insert(ids.end(), part.begin(), part.end());
        }
        if (add_special && special_.add_eos && special_.eos >= 0) ids.push_back(special_.eos);
        return ids;
    }

    std::string decode(const std::vector<int32_t>& ids, bool skip_special) const override {
        return decode_part(ids, skip_special, true);
    }

    std::string token_bytes(int32_t id) const override {
        if (auto a = added(id)) return a->content;
        if (id < 0 || id >= n_) return "";
        const std::string& p = sp_.IdToPiece(id);
        if (sp_.IsByte(id)) return std::string(1, (char)piece_byte(p));
        std::string out;
        for (size_t i = 0; i < p.size();) {
            if (p.compare(i, 3, "\xE2\x96\x81") == 0) { out += ' '; i += 3; }
            else out += p[i++];
        }
        return out;
    }

    int32_t vocab_size() const override { return vocab_size_; }
    bool is_special(int32_t id) const override {
        auto a = added(id);
        return a && a->special;
    }
    int32_t token_to_id(const std::string& t) const override {
        for (const auto& a : added_)
            if (a.content == t) return a.id;
        int id = sp_.PieceToId(t);
        return id >= 0 && sp_.IdToPiece(id) == t ? id : -1;
    }
    std::string id_to_token(int32_t id) const override {
        if (auto a = added(id)) return a->content;
        return id >= 0 && id < n_ ? sp_.IdToPiece(id) : std::string();
    }

protected:
    std::string decode_part(const std::vector<int32_t>& ids, bool skip_special, bool at_start) const override {
        std::string out;
        std::vector<int> run;
        bool first = at_start;
        auto flush = [&] {
            if (run.empty()) return;
            out += decode_run(run, first);
            first = false;
            run.clear();
        };
        for (int32_t id : ids) {
            if (id < 0 || id >= vocab_size_)
                fail(Status::invalid_argument, "decode: token id " + std::to_string(id) + " is outside [0, " + std::to_string(vocab_size_) + ")");
            if (auto a = added(id)) {
                if (skip_special && a->special) continue;
                flush();
                out += a->content;
            } else {
                run.push_back(id);
            }
        }
        flush();
        return out;
    }

private:
    const AddedToken* added(int32_t id) const {
        auto it = added_by_id_.find(id);
        return it == added_by_id_.end() ? nullptr : it->second;
    }
    // SentencePiece drops the leading space of the first piece; a continuation keeps it: decode after a
    // one-letter sentinel piece and cut the sentinel off again.
    std::string decode_run(const std::vector<int>& run, bool at_start) const {
        if (at_start || sentinel_ < 0) return sp_.DecodeIds(run);
        std::vector<int> with{sentinel_};
        with.insert(with.end(), run.begin(), run.end());
        std::string s = sp_.DecodeIds(with);
        const std::string& p = sp_.IdToPiece(sentinel_);
        return s.compare(0, p.size(), p) == 0 ? s.substr(p.size()) : sp_.DecodeIds(run);
    }

    sentencepiece::SentencePieceProcessor sp_;
    int n_ = 0, vocab_size_ = 0, sentinel_ = -1;
    std::vector<AddedToken> added_;
    std::unordered_map<int32_t, const AddedToken*> added_by_id_;
    text::AddedMatcher matcher_;
};
} // namespace

std::unique_ptr<Tokenizer> load_sp_tokenizer(const std::string& path, const std::vector<AddedToken>& extra) {
    return std::make_unique<SpTokenizer>(path, extra);
}

} // namespace vkc
