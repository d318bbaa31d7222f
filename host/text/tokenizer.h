// Tokenizers: Hugging Face tokenizer.json BPE (byte-level GPT-2/Qwen style, and Metaspace with byte
// fallback, Llama style), SentencePiece .model files (libsentencepiece), tokenizer_config.json for
// bos/eos/special ids and the chat template. Encoding/decoding match the HF tokenizers library.
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
    // preferred) plus an optional tokenizer_config.json. Throws vkc::Error(io_error / invalid_model).
    static std::unique_ptr<Tokenizer> load(const std::string& path);
    virtual ~Tokenizer() = default;

    // Text must be valid UTF-8 (else Error(invalid_argument) naming the byte offset). Added/special tokens
    // in the text are matched before the model. add_special: bos/eos as the tokenizer's config says.
    virtual std::vector<int32_t> encode(const std::string& text, bool add_special = false) const = 0;
    // Decoding as HF's decode(skip_special_tokens=skip_special). Invalid UTF-8 from byte tokens becomes U+FFFD.
    virtual std::string decode(const std::vector<int32_t>& ids, bool skip_special = true) const = 0;
    // The raw bytes one token contributes (byte-level / byte-fallback pieces mapped back to bytes), for
    // streaming; may be part of a UTF-8 sequence.
    virtual std::string token_bytes(int32_t id) const = 0;
    virtual int32_t vocab_size() const = 0;
    virtual bool is_special(int32_t id) const = 0;

    const SpecialTokens& special() const { return special_; }
    const std::string& chat_template() const { return chat_template_; } // "" when none

protected:
    SpecialTokens special_;
    std::string chat_template_;
};

// Streaming detokenizer: feed token ids one by one, get text that is always complete UTF-8 (bytes of an
// unfinished sequence are held until it completes; flush() returns the rest, invalid bytes as U+FFFD).
class StreamDecoder {
public:
    explicit StreamDecoder(const Tokenizer& tok, bool skip_special = true) : tok_(tok), skip_special_(skip_special) {}
    std::string push(int32_t id);
    std::string flush();
private:
    const Tokenizer& tok_;
    bool skip_special_;
    std::string pending_;
    bool first_ = true;
};

} // namespace vkc
