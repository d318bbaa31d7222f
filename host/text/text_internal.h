// Building blocks of the tokenizers (internal to host/text): pre-tokenizer regex scanners, the
// byte-level alphabet, added-token matching and the BPE model.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace vkc::text {

// ---- pre-tokenizer regexes (hand-coded scanners, Oniguruma semantics) ----
enum class RegexKind {
    gpt2,   // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    qwen2,  // (?i:'s|...|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
    llama3, // as qwen2 with \p{N}{1,3}
};
// True when `pattern` is one of the patterns above, character for character.
bool recognize_regex(const std::string& pattern, RegexKind* kind);
// The [start, end) byte ranges of the successive matches in valid UTF-8 `s` (they tile s).
std::vector<std::pair<size_t, size_t>> regex_matches(std::string_view s, RegexKind kind);

// GPT-2 byte-to-unicode alphabet: UTF-8 of the character standing for byte b, and the inverse
// (-1 for characters outside the alphabet).
const std::string& byte_char(uint8_t b);
int char_byte(char32_t c);

// ---- added tokens ----
struct AddedToken {
    int32_t id = -1;
    std::string content;
    bool single_word = false, lstrip = false, rstrip = false, normalized = false, special = false;
};

// Leftmost-longest matching of added tokens in text, with the single_word / lstrip / rstrip rules of
// Hugging Face tokenizers' AddedVocabulary.
class AddedMatcher {
public:
    void add(const AddedToken* tok);
    bool empty() const { return nodes_.size() <= 1; }
    struct Piece {
        size_t start, end;
        const AddedToken* tok; // nullptr: plain text
    };
    std::vector<Piece> split(std::string_view s) const;

private:
    struct Node {
        std::vector<std::pair<unsigned char, int>> kids;
        const AddedToken* tok = nullptr;
    };
    std::vector<Node> nodes_{Node{}};
};

// ---- BPE model (Hugging Face tokenizers "BPE") ----
class Bpe {
public:
    void load(const nlohmann::json& model); // throws Error(invalid_model / unsupported)
    // Appends the ids of one pre-tokenized word.
    void encode_word(std::string_view word, std::vector<int32_t>& out) const;
    int32_t token_id(std::string_view tok) const;
    const std::string* token(int32_t id) const; // nullptr for unassigned ids
    int32_t size() const { return (int32_t)id_to_token_.size(); }
    int32_t unk_id() const { return unk_; }
    bool byte_fallback() const { return byte_fallback_; }

private:
    void merge_word(std::string_view word, std::vector<int32_t>& out) const;

    std::unordered_map<std::string, int32_t> vocab_;
    std::vector<std::string> id_to_token_;
    std::vector<bool> assigned_;
    std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_; // (left, right) -> (rank, merged id)
    int32_t unk_ = -1;
    bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
    std::string prefix_, suffix_; // continuing_subword_prefix, end_of_word_suffix
    std::array<int32_t, 256> byte_ids_{};
    mutable std::mutex cache_mu_;
    mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

// A token id read from tokenizer.json: an integer in [0, 2^24) (a larger vocabulary is not a tokenizer
// we load; a float or huge value would be undefined behaviour to convert), else Error(invalid_model)
// naming `what`.
int32_t json_token_id(const nlohmann::json& v, const std::string& what);

} // namespace vkc::text
