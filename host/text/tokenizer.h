// Tokenizers: Hugging Face tokenizer.json BPE (byte-level GPT-2/Qwen style, and Metaspace with byte
// fallback, Llama style), SentencePiece .model files (libsentencepiece), tokenizer_config.json for
// bos/eos/special ids and the chat template. Encoding/decoding match the HF tokenizers library.
// Implementation: host/text/hf_tokenizer.cpp (what tokenizer.json parts are supported), bpe.cpp,
// pretokenize.cpp (regex scanners), unicode.cpp (normalization forms), sp_tokenizer.cpp, tokenizer.cpp.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vkc {

struct SpecialTokens {
    int32_t bos = -1, eos = -1, pad = -1, unk = -1;
    bool add_bos = false; // tokenizer_config.json add_bos_token (or the post-processor's template)
    bool add_eos = false;
};

class Tokenizer {
public:
    // path: a tokenizer.json, a SentencePiece .model, or a directory holding either (tokenizer.json
    // preferred) plus an optional tokenizer_config.json (and chat_template.jinja). Throws
    // vkc::Error(io_error / invalid_model), or Error(unsupported) naming a tokenizer.json component it lacks.
    static std::unique_ptr<Tokenizer> load(const std::string& path);
    // A Hugging Face tokenizer.json and its tokenizer_config.json ("" for none) given as text; no files
    // are read (no chat_template.jinja). Same errors as load(). Used by the fuzz targets.
    static std::unique_ptr<Tokenizer> load_json(const std::string& tokenizer_json, const std::string& tokenizer_config_json);
    virtual ~Tokenizer() = default;

    // Text must be valid UTF-8 (else Error(invalid_argument) naming the byte offset). Added/special tokens
    // in the text are matched before the model. add_special: bos/eos as the tokenizer's config says.
    virtual std::vector<int32_t> encode(const std::string& text, bool add_special = false) const = 0;
    // Decoding as HF's decode(skip_special_tokens=skip_special). Invalid UTF-8 from byte tokens becomes U+FFFD.
    virtual std::string decode(const std::vector<int32_t>& ids, bool skip_special = true) const = 0;
    // The raw bytes one token contributes (byte-level / byte-fallback pieces mapped back to bytes, "▁" as
    // a space, special tokens as their text); may be part of a UTF-8 sequence.
    virtual std::string token_bytes(int32_t id) const = 0;
    virtual int32_t vocab_size() const = 0;
    virtual bool is_special(int32_t id) const = 0;
    // Id of a token string (added tokens first, then the model's vocab), -1 when absent.
    virtual int32_t token_to_id(const std::string& token) const { return -1; }
    // The token's string as stored in the vocab ("" for unassigned ids).
    virtual std::string id_to_token(int32_t id) const { return ""; }

    const SpecialTokens& special() const { return special_; }
    const std::string& chat_template() const { return chat_template_; } // "" when none

protected:
    // decode() of ids that continue earlier output when !at_start: no start-of-text rule applies
    // (Metaspace's or Strip's removal of the leading space). Used by StreamDecoder.
    virtual std::string decode_part(const std::vector<int32_t>& ids, bool skip_special, bool at_start) const {
        return decode(ids, skip_special);
    }
    friend class StreamDecoder;
    friend struct TokenizerConfigAccess; // tokenizer.cpp: applies tokenizer_config.json

    SpecialTokens special_;
    std::string chat_template_;
};

// Streaming detokenizer: feed token ids one by one, get text that is always complete UTF-8 (text that
// still ends in an unfinished sequence, shown by decode as U+FFFD, is held until the next token;
// flush() returns the rest and starts a new text). The concatenated output equals
// decode(all ids, skip_special), except that a byte-fallback run that turns invalid after a valid
// character was already shown keeps that character (HF replaces every byte of an invalid run).
class StreamDecoder {
public:
    explicit StreamDecoder(const Tokenizer& tok, bool skip_special = true) : tok_(tok), skip_special_(skip_special) {}
    std::string push(int32_t id);
    std::string flush();
    void reset();
private:
    std::string emit(bool final);
    const Tokenizer& tok_;
    bool skip_special_;
    std::vector<int32_t> ids_; // window: ids_[0, read_) were shown already, as context
    size_t read_ = 0;
    bool at_start_ = true;     // the window starts at the first token
};

} // namespace vkc
