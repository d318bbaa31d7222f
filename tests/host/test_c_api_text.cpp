// The C API's text side on a model folder with a tokenizer (v1-tiny-tied weights + the byte-level BPE
// tokenizer fixture): tokenize/detokenize, invalid UTF-8, streamed generation text and stop strings
// spanning token pieces.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "host/src/stop_filter.h"
#include "tests/host/api_test_util.h"

using namespace vkc;
using namespace vkc::test;
using namespace vkc::api_test;

namespace {

struct Pieces {
    std::vector<std::string> pieces; // one per call
    std::vector<int32_t> ids;
    std::string text;
};

bool collect_pieces(const char* piece, int32_t id, void* user) {
    auto* p = static_cast<Pieces*>(user);
    p->pieces.push_back(piece);
    p->text += piece;
    if (id >= 0) p->ids.push_back(id);
    return true;
}

size_t utf8_char_len(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }

class CApiText : public VkTest {
protected:
    static void SetUpTestSuite() {
        dir_ = model_copy("text", -1, "bytelevel-bpe.json");
        model_ = load(dir_);
    }
    static void TearDownTestSuite() {
        vkc_model_free(model_);
        model_ = nullptr;
    }
    // ids of text; all must be < the model's vocab (512) to be evaluated.
    std::vector<int32_t> tokenize(const std::string& text) {
        int32_t n = 0;
        EXPECT_EQ(vkc_tokenize(model_, text.data(), (int32_t)text.size(), false, nullptr, 0, &n),
                  text.empty() ? VKC_OK : VKC_BUFFER_TOO_SMALL);
        std::vector<int32_t> ids(n);
        EXPECT_EQ(vkc_tokenize(model_, text.data(), (int32_t)text.size(), false, ids.data(), n, &n), VKC_OK)
            << vkc_last_error();
        return ids;
    }
    std::string detokenize(const std::vector<int32_t>& ids) {
        int32_t n = 0;
        vkc_detokenize(model_, ids.data(), (int32_t)ids.size(), true, nullptr, 0, &n);
        std::vector<char> buf(n + 1);
        EXPECT_EQ(vkc_detokenize(model_, ids.data(), (int32_t)ids.size(), true, buf.data(), n + 1, &n), VKC_OK)
            << vkc_last_error();
        return std::string(buf.data(), n);
    }
    // A prompt whose ids the 512-token model can evaluate.
    std::string prompt() {
        for (const char* p : {"the cat", "a b c", "ab", "a"}) {
            auto ids = tokenize(p);
            bool ok = !ids.empty();
            for (int32_t id : ids) ok &= id < 512;
            if (ok) return p;
        }
        ADD_FAILURE() << "no prompt with ids < 512";
        return "a";
    }
    Pieces generate(const std::vector<std::string>& stops, int max_tokens, vkc_generate_result* r) {
        vkc_session* s = session(model_);
        vkc_sampler* g = greedy_sampler();
        std::vector<const char*> sp;
        for (auto& x : stops) sp.push_back(x.c_str());
        vkc_generate_params gp = vkc_generate_default_params();
        gp.max_tokens = max_tokens;
        gp.stop_on_eos = false;
        gp.stop = sp.data();
        gp.n_stop = (int32_t)sp.size();
        Pieces p;
        EXPECT_EQ(vkc_generate(s, g, prompt().c_str(), &gp, collect_pieces, &p, r), VKC_OK) << vkc_last_error();
        vkc_sampler_free(g);
        vkc_session_free(s);
        return p;
    }
    static std::string dir_;
    static vkc_model* model_;
};
std::string CApiText::dir_;
vkc_model* CApiText::model_ = nullptr;

TEST_F(CApiText, TokenizeDetokenizeRoundTrip) {
    ASSERT_NE(model_, nullptr);
    EXPECT_TRUE(vkc_model_has_tokenizer(model_));
    const std::string text = "Hello world, h\xC3\xA9llo \xE2\x82\xAC!";
    auto ids = tokenize(text);
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(detokenize(ids), text);
    // Explicit length: only the first 5 bytes.
    EXPECT_EQ(detokenize(tokenize(text.substr(0, 5))), "Hello");
    int32_t out[64], n = 0;
    ASSERT_EQ(vkc_tokenize(model_, text.c_str(), 5, false, out, 64, &n), VKC_OK);
    EXPECT_EQ(std::vector<int32_t>(out, out + n), tokenize("Hello"));
    // Pieces are the raw bytes of each token; together they are the text.
    std::string joined;
    for (int32_t id : ids) {
        char buf[64];
        int32_t len = 0;
        ASSERT_EQ(vkc_token_to_piece(model_, id, buf, sizeof buf, &len), VKC_OK) << vkc_last_error();
        joined.append(buf, len);
    }
    EXPECT_EQ(joined, text);
    // Too small an output buffer reports the size needed.
    char small[4];
    EXPECT_EQ(vkc_detokenize(model_, ids.data(), (int32_t)ids.size(), true, small, 4, &n), VKC_BUFFER_TOO_SMALL);
    EXPECT_EQ(n, (int32_t)text.size());
    EXPECT_EQ(vkc_tokenize(model_, text.c_str(), -1, false, out, 1, &n), VKC_BUFFER_TOO_SMALL);
    EXPECT_EQ(n, (int32_t)ids.size());
}

TEST_F(CApiText, BadText) {
    int32_t out[16], n = 0;
    EXPECT_EQ(vkc_tokenize(model_, "ab\xFF" "cd", -1, false, out, 16, &n), VKC_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(vkc_last_error(), "UTF-8") && contains(vkc_last_error(), "offset 2")) << vkc_last_error();
    EXPECT_EQ(vkc_tokenize(model_, "\xC3", -1, false, out, 16, &n), VKC_INVALID_ARGUMENT); // truncated
    EXPECT_EQ(vkc_tokenize(model_, "\xED\xA0\x80", -1, false, out, 16, &n), VKC_INVALID_ARGUMENT); // surrogate
    EXPECT_EQ(vkc_tokenize(model_, nullptr, -1, false, out, 16, &n), VKC_INVALID_ARGUMENT);
    int32_t big = 5000;
    char buf[16];
    EXPECT_EQ(vkc_detokenize(model_, &big, 1, true, buf, 16, &n), VKC_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(vkc_last_error(), "5000")) << vkc_last_error();

    vkc_session* s = session(model_);
    vkc_sampler* g = greedy_sampler();
    EXPECT_EQ(vkc_generate(s, g, "", nullptr, nullptr, nullptr, nullptr), VKC_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(vkc_last_error(), "empty prompt"));
    EXPECT_EQ(vkc_generate(s, g, "x\xC0\xAFy", nullptr, nullptr, nullptr, nullptr), VKC_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(vkc_last_error(), "UTF-8") && contains(vkc_last_error(), "offset 1")) << vkc_last_error();
    const char* stops[] = {"ok", "\xFF"};
    vkc_generate_params gp = vkc_generate_default_params();
    gp.stop = stops;
    gp.n_stop = 2;
    EXPECT_EQ(vkc_generate(s, g, "a", &gp, nullptr, nullptr, nullptr), VKC_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(vkc_last_error(), "stop string 1")) << vkc_last_error();
    const char* empty_stop[] = {""};
    gp.stop = empty_stop;
    gp.n_stop = 1;
    EXPECT_EQ(vkc_generate(s, g, "a", &gp, nullptr, nullptr, nullptr), VKC_INVALID_ARGUMENT);
    EXPECT_EQ(vkc_session_pos(s), 0);
    vkc_sampler_free(g);
    vkc_session_free(s);
}

TEST_F(CApiText, StreamedTextMatchesDetokenize) {
    vkc_generate_result r;
    Pieces p = generate({}, 24, &r);
    EXPECT_EQ(r.stop_reason, VKC_STOP_MAX_TOKENS);
    EXPECT_EQ(r.n_generated, 24);
    EXPECT_EQ(r.n_prompt, (int32_t)tokenize(prompt()).size());
    ASSERT_EQ(p.ids.size(), 24u);
    EXPECT_EQ(p.text, detokenize(p.ids));
    // Every piece is complete UTF-8 on its own.
    for (const std::string& piece : p.pieces)
        EXPECT_EQ(utf8_invalid_offset(piece.data(), piece.size()), std::string::npos) << "piece is not valid UTF-8";
}

TEST_F(CApiText, StopStringsAcrossPieces) {
    vkc_generate_result r;
    Pieces full = generate({}, 24, &r);
    // A stop string made of the last character of one non-empty piece and the first of the next.
    std::vector<std::string> ne;
    for (auto& x : full.pieces)
        if (!x.empty()) ne.push_back(x);
    ASSERT_GE(ne.size(), 3u) << "generated text too short: '" << full.text << "'";
    const std::string& a = ne[ne.size() / 2 - 1];
    const std::string& b = ne[ne.size() / 2];
    size_t last = a.size() - 1;
    while (last > 0 && ((unsigned char)a[last] & 0xC0) == 0x80) --last;
    const std::string stop = a.substr(last) + b.substr(0, utf8_char_len((unsigned char)b[0]));
    const std::string want = full.text.substr(0, full.text.find(stop));

    std::printf("[ info ] generated '%s'; stop string '%s'\n", full.text.c_str(), stop.c_str());
    Pieces cut = generate({"\x01never", stop}, 24, &r);
    EXPECT_EQ(r.stop_reason, VKC_STOP_STRING);
    EXPECT_EQ(cut.text, want) << "stop '" << stop << "'";
    EXPECT_LT(r.n_generated, 24);

    // A stop string whose start appears but never completes: the held-back text comes out at the end.
    size_t t0 = full.text.size() - 1;
    while (t0 > 0 && ((unsigned char)full.text[t0] & 0xC0) == 0x80) --t0;
    Pieces held = generate({full.text.substr(t0) + "\x01zz"}, 24, &r);
    EXPECT_EQ(r.stop_reason, VKC_STOP_MAX_TOKENS);
    EXPECT_EQ(held.text, full.text);
    EXPECT_EQ(held.ids, full.ids);
}

} // namespace
