// Tokenizers: the Hugging Face fixture cases exactly (ids and decoded text), streaming, invalid UTF-8,
// a hand-built Llama-style tokenizer.json (byte fallback), SentencePiece through a model trained here.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "host/text/tokenizer.h"
#include "host/text/unicode.h"
#include "runtime/status.h"
#include "tests/common/test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;
using vkc::Error;
using vkc::Status;
using vkc::StreamDecoder;
using vkc::Tokenizer;

namespace {

const std::string fixtures = VKC_FIXTURES_DIR "/tokenizers";

json fixture_cases() {
    std::ifstream f(fixtures + "/cases.json");
    return json::parse(f);
}

bool valid_utf8(const std::string& s) { return vkc::uni::find_invalid_utf8(s) == vkc::uni::npos; }

// Streams ids one by one; every chunk must be valid UTF-8.
std::string stream(const Tokenizer& tok, const std::vector<int32_t>& ids, bool skip_special) {
    StreamDecoder sd(tok, skip_special);
    std::string out;
    for (int32_t id : ids) {
        std::string part = sd.push(id);
        EXPECT_TRUE(valid_utf8(part));
        out += part;
    }
    return out + sd.flush();
}

fs::path temp_dir(const std::string& name) {
    fs::path d = fs::temp_directory_path() / ("vkc_text_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

void write(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

std::string show(const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t id : ids) s += std::to_string(id) + " ";
    return s;
}

} // namespace

class FixtureTokenizer : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureTokenizer, IdsAndDecodedTextMatchHuggingFace) {
    auto tok = Tokenizer::load(fixtures + "/" + GetParam());
    const json cases = fixture_cases().at(GetParam());
    ASSERT_GE(cases.size(), 20u);
    for (const auto& c : cases) {
        const std::string text = c.at("text");
        const auto want = c.at("ids").get<std::vector<int32_t>>();
        const std::string decoded = c.at("decoded");
        SCOPED_TRACE("text: " + text);
        auto ids = tok->encode(text);
        EXPECT_EQ(ids, want) << "got " << show(ids) << "\nwant " << show(want);
        // The fixtures were decoded keeping special tokens (<unk>, <|im_start|> are special there).
        EXPECT_EQ(tok->decode(want, false), decoded);
        EXPECT_EQ(stream(*tok, want, false), decoded);
        // Skipping specials: streaming still equals decode.
        EXPECT_EQ(stream(*tok, want, true), tok->decode(want, true));
    }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureTokenizer, ::testing::Values("bytelevel-bpe.json", "metaspace-bpe.json"),
                         [](const auto& info) { return info.param.substr(0, info.param.find('-')); });

TEST(Tokenizer, SkipSpecialDropsSpecialTokens) {
    auto bl = Tokenizer::load(fixtures + "/bytelevel-bpe.json");
    EXPECT_EQ(bl->decode(bl->encode("x<|endoftext|>y")), "xy");
    EXPECT_TRUE(bl->is_special(0));
    EXPECT_FALSE(bl->is_special(90));
    EXPECT_EQ(bl->token_to_id("<|im_end|>"), 2);
    auto ms = Tokenizer::load(fixtures + "/metaspace-bpe.json");
    // [<|im_start|>, ▁us, er] -> the first token passed to the decoder is now ▁us: its space goes.
    EXPECT_EQ(ms->decode({4, 318, 100}), "user");
    EXPECT_EQ(ms->decode({4, 318, 100}, false), "<|im_start|> user");
    EXPECT_EQ(ms->special().unk, 0);
}

TEST(Tokenizer, InvalidUtf8IsRejectedWithItsOffset) {
    auto tok = Tokenizer::load(fixtures + "/bytelevel-bpe.json");
    const std::pair<std::string, size_t> bad[] = {
        {"ab\xC3(", 2},            // lead byte without continuation
        {"\xED\xA0\x80", 0},       // UTF-16 surrogate
        {"ok \xC0\xAF", 3},        // overlong
        {"abc\xE2\x82", 3},        // truncated at the end
        {"\xF4\x90\x80\x80", 0},   // past U+10FFFF
        {"caf\xC3\xA9 \xFF", 6},   // stray byte after valid text
    };
    for (const auto& [text, at] : bad) {
        try {
            tok->encode(text);
            ADD_FAILURE() << "no error for byte " << at;
        } catch (const Error& e) {
            EXPECT_EQ(e.status(), Status::invalid_argument);
            EXPECT_NE(std::string(e.what()).find("invalid UTF-8 at byte " + std::to_string(at)), std::string::npos) << e.what();
        }
    }
}

TEST(Tokenizer, DecodeRejectsIdsOutOfRange) {
    auto tok = Tokenizer::load(fixtures + "/bytelevel-bpe.json");
    EXPECT_THROW(tok->decode({5, tok->vocab_size()}), Error);
    EXPECT_THROW(tok->decode({-1}), Error);
}

TEST(Tokenizer, ByteLevelPartialCharactersBecomeReplacementAndStreamHoldsThem) {
    auto tok = Tokenizer::load(fixtures + "/bytelevel-bpe.json");
    auto ids = tok->encode("日本");
    ASSERT_GE(ids.size(), 2u);
    std::string bytes;
    for (int32_t id : ids) bytes += tok->token_bytes(id);
    EXPECT_EQ(bytes, "日本");
    // Cut after the first token: an unfinished sequence decodes as one U+FFFD (from_utf8_lossy).
    EXPECT_EQ(tok->decode({ids[0]}), "\xEF\xBF\xBD");
    StreamDecoder sd(*tok);
    std::string first = sd.push(ids[0]);
    EXPECT_EQ(first, ""); // held until complete
    std::string rest;
    for (size_t i = 1; i < ids.size(); ++i) rest += sd.push(ids[i]);
    EXPECT_EQ(first + rest + sd.flush(), "日本");
    // A dangling lead byte at the end of the stream is flushed as U+FFFD, like decode.
    StreamDecoder sd2(*tok);
    std::string held = sd2.push(ids[0]);
    EXPECT_EQ(held + sd2.flush(), tok->decode({ids[0]}));
}

TEST(Tokenizer, LongWordsAreFast) {
    auto tok = Tokenizer::load(fixtures + "/metaspace-bpe.json");
    std::string word;
    for (int i = 0; i < 20000; ++i) word += "abcdefghij"[i % 10];
    auto t0 = std::chrono::steady_clock::now();
    auto ids = tok->encode(word);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(tok->decode(ids), word);
    EXPECT_LT(ms, 500.0) << "20000-character word took " << ms << " ms";
}

// ---- unicode helpers ----
TEST(Unicode, NormalizationForms) {
    using vkc::uni::normalize;
    using F = vkc::uni::NormForm;
    EXPECT_EQ(normalize("e\xCC\x81", F::nfc), "\xC3\xA9");           // e + U+0301 -> é
    EXPECT_EQ(normalize("\xC3\xA9", F::nfd), "e\xCC\x81");
    EXPECT_EQ(normalize("\xEF\xAC\x81", F::nfkc), "fi");              // ﬁ ligature
    EXPECT_EQ(normalize("\xE2\x91\xA0", F::nfkc), "1");               // ①
    EXPECT_EQ(normalize("\xEF\xBC\xA1", F::nfkc), "A");               // fullwidth A
    EXPECT_EQ(normalize("\xE2\x84\xAB", F::nfc), "\xC3\x85");         // angstrom sign -> Å
    EXPECT_EQ(normalize("\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB", F::nfc), "\xED\x95\x9C"); // jamo -> 한
    EXPECT_EQ(normalize("\xED\x95\x9C", F::nfd), "\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB");
    EXPECT_EQ(normalize("a\xCC\x87\xCC\xA3", F::nfc), "\xE1\xBA\xA1\xCC\x87"); // reordering: ạ + dot above
    EXPECT_EQ(normalize("\xEF\xBE\x8A\xEF\xBE\x9F", F::nfkc), "\xE3\x83\x91"); // halfwidth ﾊﾟ -> パ
}

TEST(Unicode, LossyMatchesRustFromUtf8Lossy) {
    EXPECT_EQ(vkc::uni::lossy_utf8("a\xE6\x97" "b"), "a\xEF\xBF\xBD" "b");      // one maximal subpart
    EXPECT_EQ(vkc::uni::lossy_utf8("\xF0\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); // F0 80: invalid 2nd
    EXPECT_EQ(vkc::uni::lossy_utf8("\xC3\xA9\xFF"), "\xC3\xA9\xEF\xBF\xBD");
}

// ---- Llama-style tokenizer.json (Metaspace + byte fallback), built here; expectations by hand ----
namespace {
const char* sp_space = "\xE2\x96\x81"; // ▁

// legacy: normalizer Prepend("▁") + Replace(" ", "▁") (Llama 2); else pre-tokenizer Metaspace with
// prepend_scheme "first" and no split (newer conversions).
json llama_style(bool legacy) {
    json vocab = json::object();
    vocab["<unk>"] = 0;
    vocab["<s>"] = 1;
    vocab["</s>"] = 2;
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        vocab[name] = 3 + b;
    }
    const std::string u = sp_space;
    const std::vector<std::string> pieces = {u, "H", "e", "l", "o", "w", "r", "d", u + "H", "el", "lo",
                                             u + "w", "or", "ld", u + "wor", u + "Hel", u + "Hello", u + "world"};
    for (size_t i = 0; i < pieces.size(); ++i) vocab[pieces[i]] = 259 + (int)i; // ▁Hello = 275, ▁world = 276
    json merges = json::array({"e l", u + " H", "l o", u + " w", "o r", "l d"});
    for (auto [a, b] : std::vector<std::pair<std::string, std::string>>{
             {u + "w", "or"}, {u + "H", "el"}, {u + "Hel", "lo"}, {u + "wor", "ld"}})
        merges.push_back(json::array({a, b})); // the newer [a, b] form
    json added = json::array();
    for (auto [id, c] : std::vector<std::pair<int, std::string>>{{0, "<unk>"}, {1, "<s>"}, {2, "</s>"}})
        added.push_back({{"id", id}, {"content", c}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                         {"normalized", false}, {"special", true}});
    json j;
    j["version"] = "1.0";
    j["added_tokens"] = added;
    if (legacy) {
        j["normalizer"] = {{"type", "Sequence"},
                           {"normalizers", json::array({{{"type", "Prepend"}, {"prepend", u}},
                                                        {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", u}}})}};
        j["pre_tokenizer"] = nullptr;
    } else {
        j["normalizer"] = nullptr;
        j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", u}, {"prepend_scheme", "first"}, {"split", false}};
    }
    j["post_processor"] = {{"type", "TemplateProcessing"},
                           {"single", json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                                   {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
                           {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}};
    j["decoder"] = {{"type", "Sequence"},
                    {"decoders", json::array({{{"type", "Replace"}, {"pattern", {{"String", u}}}, {"content", " "}},
                                              {{"type", "ByteFallback"}},
                                              {{"type", "Fuse"}},
                                              {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}};
    j["model"] = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", "<unk>"}, {"continuing_subword_prefix", nullptr},
                  {"end_of_word_suffix", nullptr}, {"fuse_unk", true}, {"byte_fallback", true}, {"ignore_merges", false},
                  {"vocab", vocab}, {"merges", merges}};
    return j;
}

std::unique_ptr<Tokenizer> load_json(const json& j, const std::string& name, const json& config = nullptr) {
    fs::path d = temp_dir(name);
    write(d / "tokenizer.json", j.dump());
    if (!config.is_null()) write(d / "tokenizer_config.json", config.dump());
    struct Cleanup {
        fs::path d;
        ~Cleanup() { fs::remove_all(d); }
    } cleanup{d};
    return Tokenizer::load(d.string());
}
} // namespace

TEST(LlamaStyle, EncodeWithByteFallbackAndTemplate) {
    auto tok = load_json(llama_style(true), "llama_legacy");
    EXPECT_EQ(tok->encode("Hello world!"), (std::vector<int32_t>{275, 276, 3 + '!'}));
    EXPECT_TRUE(tok->special().add_bos); // from the TemplateProcessing post-processor
    EXPECT_EQ(tok->special().bos, 1);
    EXPECT_EQ(tok->encode("Hello world!", true), (std::vector<int32_t>{1, 275, 276, 3 + '!'}));
    EXPECT_EQ(tok->encode("\xE6\x97\xA5"), (std::vector<int32_t>{259, 3 + 0xE6, 3 + 0x97, 3 + 0xA5})); // ▁ + bytes of 日
    EXPECT_EQ(tok->encode(" Hello"), (std::vector<int32_t>{259, 275}));  // "▁▁Hello"
    EXPECT_EQ(tok->encode("<s>Hello"), (std::vector<int32_t>{1, 275}));  // Prepend applies after the added token
    EXPECT_EQ(tok->encode(""), std::vector<int32_t>{});
    EXPECT_EQ(tok->special().unk, 0);

    auto modern = load_json(llama_style(false), "llama_modern");
    EXPECT_EQ(modern->encode("Hello world!"), (std::vector<int32_t>{275, 276, 3 + '!'}));
    EXPECT_EQ(modern->encode("<s>Hello"), (std::vector<int32_t>{1, 260, 268, 269})); // no ▁: not at the start
}

TEST(LlamaStyle, DecodeStripsOneLeadingSpaceAndReplacesInvalidBytes) {
    auto tok = load_json(llama_style(true), "llama_decode");
    EXPECT_EQ(tok->decode({1, 275, 276, 3 + '!'}), "Hello world!");
    EXPECT_EQ(tok->decode({1, 275, 276, 3 + '!'}, false), "<s> Hello world!");
    EXPECT_EQ(tok->decode({259, 3 + 0xE6, 3 + 0x97, 3 + 0xA5}), "\xE6\x97\xA5");
    EXPECT_EQ(tok->decode({259, 275}), " Hello");
    // ByteFallback: an invalid run becomes one U+FFFD per byte.
    EXPECT_EQ(tok->decode({275, 3 + 0xE6, 3 + 0x97}), "Hello\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(tok->decode({3 + 0xE6, 3 + '!'}), "\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(tok->decode({3 + 0xE6, 3 + 0x97, 276}), "\xEF\xBF\xBD\xEF\xBF\xBD world");
    EXPECT_EQ(tok->token_bytes(275), " Hello");
    EXPECT_EQ(tok->token_bytes(3 + 0xE6), "\xE6");
}

TEST(LlamaStyle, StreamEqualsDecode) {
    auto tok = load_json(llama_style(true), "llama_stream");
    const std::vector<std::vector<int32_t>> seqs = {
        {275, 276, 3 + '!'},
        {1, 275, 276},
        {259, 275},                                     // first token ▁ alone: its space is stripped
        {259, 3 + 0xE6, 3 + 0x97, 3 + 0xA5, 276},       // 日 from bytes
        {275, 259, 3 + 0xE6, 3 + 0x97, 3 + 0xA5, 3 + 0xE6, 3 + 0x97, 3 + 0xA5},
        {275, 3 + 0xE6, 3 + 0x97},                      // unfinished at the end
        {3 + 0xE6, 3 + '!', 276},                       // invalid run, then text
    };
    for (const auto& ids : seqs) {
        SCOPED_TRACE(show(ids));
        EXPECT_EQ(stream(*tok, ids, true), tok->decode(ids));
        EXPECT_EQ(stream(*tok, ids, false), tok->decode(ids, false));
    }
    // Text is shown as soon as a character is complete.
    StreamDecoder sd(*tok);
    EXPECT_EQ(sd.push(275), "Hello");
    EXPECT_EQ(sd.push(259), " ");
    EXPECT_EQ(sd.push(3 + 0xE6), "");
    EXPECT_EQ(sd.push(3 + 0x97), "");
    EXPECT_EQ(sd.push(3 + 0xA5), "\xE6\x97\xA5");
    EXPECT_EQ(sd.flush(), "");
}

TEST(LlamaStyle, TokenizerConfigSpecialsAndChatTemplate) {
    json cfg = {{"bos_token", {{"content", "<s>"}, {"lstrip", false}}},
                {"eos_token", "</s>"},
                {"pad_token", nullptr},
                {"unk_token", "<unk>"},
                {"add_bos_token", false},
                {"add_eos_token", true},
                {"chat_template", json::array({{{"name", "tool_use"}, {"template", "T"}}, {{"name", "default"}, {"template", "D"}}})}};
    auto tok = load_json(llama_style(true), "llama_config", cfg);
    EXPECT_EQ(tok->special().bos, 1);
    EXPECT_EQ(tok->special().eos, 2);
    EXPECT_EQ(tok->special().pad, -1);
    EXPECT_EQ(tok->special().unk, 0);
    EXPECT_FALSE(tok->special().add_bos);
    EXPECT_TRUE(tok->special().add_eos);
    EXPECT_EQ(tok->chat_template(), "D");
    EXPECT_EQ(tok->encode("Hello", true), (std::vector<int32_t>{275, 2}));
    EXPECT_EQ(tok->vocab_size(), 277);
}

TEST(LlamaStyle, UnsupportedPartsFailAtLoad) {
    json j = llama_style(true);
    j["normalizer"] = {{"type", "Lowercase"}};
    try {
        load_json(j, "llama_bad");
        ADD_FAILURE() << "loaded";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::unsupported);
        EXPECT_NE(std::string(e.what()).find("normalizer Lowercase"), std::string::npos) << e.what();
    }
    EXPECT_THROW(Tokenizer::load("/nonexistent/tokenizer.json"), Error);
}

// ---- SentencePiece .model, trained here with the library's trainer ----
class SentencePiece : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new fs::path(temp_dir("spm"));
        std::string corpus;
        const char* words[] = {"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "hello", "world",
                               "stream", "decode", "encode", "model", "text", "unicode", "tokenizer"};
        uint32_t x = 1;
        for (int line = 0; line < 200; ++line) {
            for (int w = 0; w < 8; ++w) {
                x = x * 1103515245u + 12345u;
                corpus += std::string(w ? " " : "") + words[(x >> 16) % 17];
            }
            corpus += "\n";
        }
        write(*dir_ / "corpus.txt", corpus);
        auto st = sentencepiece::SentencePieceTrainer::Train(
            "--input=" + (*dir_ / "corpus.txt").string() + " --model_prefix=" + (*dir_ / "tokenizer").string() +
            " --vocab_size=320 --model_type=bpe --byte_fallback=true --character_coverage=1.0 --minloglevel=2");
        ASSERT_TRUE(st.ok()) << st.ToString();
    }
    static void TearDownTestSuite() { fs::remove_all(*dir_); delete dir_; }
    static fs::path* dir_;
};
fs::path* SentencePiece::dir_ = nullptr;

TEST_F(SentencePiece, MatchesTheLibraryAndStreams) {
    const std::string model = (*dir_ / "tokenizer.model").string();
    sentencepiece::SentencePieceProcessor ref;
    ASSERT_TRUE(ref.Load(model).ok());
    auto tok = Tokenizer::load(model);
    EXPECT_EQ(tok->vocab_size(), ref.GetPieceSize());
    EXPECT_EQ(tok->special().bos, ref.bos_id());
    EXPECT_EQ(tok->special().eos, ref.eos_id());
    EXPECT_EQ(tok->special().unk, ref.unk_id());
    for (std::string text : {"hello world", "the quick brown fox", "  two  spaces ", "\xE6\x97\xA5\xE6\x9C\xAC text",
                             "zebra!", ""}) {
        SCOPED_TRACE(text);
        std::vector<int> want;
        ASSERT_TRUE(ref.Encode(text, &want).ok());
        auto ids = tok->encode(text);
        EXPECT_EQ(std::vector<int>(ids.begin(), ids.end()), want);
        EXPECT_EQ(tok->decode(ids), ref.DecodeIds(want));
        EXPECT_EQ(stream(*tok, ids, true), tok->decode(ids));
    }
    // Control tokens written in the text are matched as tokens; skipped when decoding.
    auto ids = tok->encode("<s>hello world</s>");
    ASSERT_GE(ids.size(), 3u);
    EXPECT_EQ(ids.front(), ref.bos_id());
    EXPECT_EQ(ids.back(), ref.eos_id());
    EXPECT_TRUE(tok->is_special(ids.front()));
    EXPECT_EQ(tok->decode(ids), "hello world");
    EXPECT_EQ(tok->decode(ids, false), "<s>hello world</s>");
    EXPECT_EQ(stream(*tok, ids, false), "<s>hello world</s>");
    EXPECT_THROW(tok->encode("bad \xFF"), Error);
}

TEST_F(SentencePiece, DirectoryWithConfig) {
    write(*dir_ / "tokenizer_config.json", R"({"add_bos_token": true, "eos_token": "</s>", "chat_template": "{{ bos_token }}"})");
    auto tok = Tokenizer::load(dir_->string());
    auto ids = tok->encode("hello", true);
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids[0], tok->special().bos);
    EXPECT_EQ(tok->chat_template(), "{{ bos_token }}");
    fs::remove(*dir_ / "tokenizer_config.json");
}

// Found by tests/fuzz/fuzz_tokenizer_config (corpus/tokenizer_config/crash-*): malformed tokenizer_config.json
// content threw nlohmann::json::type_error / std::invalid_argument out of Tokenizer::load instead of vkc::Error.
TEST_F(SentencePiece, MalformedAddedTokensDecoderIsInvalidModel) {
    for (const char* cfg : {R"({"added_tokens_decoder": {"x": {"content": "<x>"}}})",
                            R"({"added_tokens_decoder": {"99999999999": {"content": "<x>"}}})",
                            R"({"added_tokens_decoder": {"5": 3}})", R"({"added_tokens_decoder": {"5": {"content": 3}}})"}) {
        SCOPED_TRACE(cfg);
        write(*dir_ / "tokenizer_config.json", cfg);
        vkc::test::expect_error([&] { Tokenizer::load(dir_->string()); }, Status::invalid_model,
                                {"tokenizer_config.json", "added_tokens_decoder"});
    }
    fs::remove(*dir_ / "tokenizer_config.json");
}

TEST(TokenizerConfig, FromTextAndMalformedChatTemplates) {
    const std::string tok_json = R"({"added_tokens": [{"id": 0, "content": "<s>", "special": true}],
        "model": {"type": "BPE", "vocab": {"<s>": 0, "a": 1, "b": 2, "ab": 3}, "merges": ["a b"]}})";
    auto tok = Tokenizer::load_json(tok_json, R"({"bos_token": "<s>", "add_bos_token": true,
        "chat_template": [7, {"name": 5}, {"name": "tool_use", "template": 1}, {"name": "default", "template": "T"}]})");
    EXPECT_EQ(tok->chat_template(), "T");
    EXPECT_EQ(tok->encode("ab", true), (std::vector<int32_t>{0, 3}));
    vkc::test::expect_error([&] { Tokenizer::load_json(tok_json, R"({"chat_template": [{"name": "default", "template": 3}]})"); },
                            Status::invalid_model, {"chat_template 'default' is not a string"});
    vkc::test::expect_error([&] { Tokenizer::load_json(tok_json, "[1]"); }, Status::invalid_model, {"not an object"});
    vkc::test::expect_error([&] { Tokenizer::load_json(tok_json, "{"); }, Status::invalid_model, {"not valid JSON"});
    vkc::test::expect_error([&] { Tokenizer::load_json("{}", ""); }, Status::invalid_model, {"tokenizer.json"});
}
