// The C API's tokenizer on every case of tokenizers/cases.json (ids and decoded text the Hugging Face
// tokenizers library produced, decoded with skip_special_tokens=False): a temporary model folder holds
// the v1-tiny-tied/f32 weights and the fixture tokenizer as tokenizer.json; vkc_tokenize must give
// exactly the ids and vkc_detokenize(skip_special = false) exactly the decoded text.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/host/api_test_util.h"

using namespace vkc;
using namespace vkc::api_test;
using nlohmann::json;

namespace {

class CApiCases : public test::VkTest, public ::testing::WithParamInterface<const char*> {};

std::vector<int32_t> tokenize(vkc_model* m, const std::string& text) {
    int32_t n = -1;
    vkc_status st = vkc_tokenize(m, text.data(), (int32_t)text.size(), true, nullptr, 0, &n);
    EXPECT_TRUE(st == VKC_OK || st == VKC_BUFFER_TOO_SMALL) << vkc_last_error();
    std::vector<int32_t> ids(n);
    EXPECT_EQ(vkc_tokenize(m, text.data(), (int32_t)text.size(), true, ids.data(), n, &n), VKC_OK) << vkc_last_error();
    ids.resize(n);
    return ids;
}

std::string detokenize(vkc_model* m, const std::vector<int32_t>& ids) {
    int32_t n = -1;
    vkc_status st = vkc_detokenize(m, ids.data(), (int32_t)ids.size(), false, nullptr, 0, &n);
    EXPECT_TRUE(st == VKC_OK || st == VKC_BUFFER_TOO_SMALL) << vkc_last_error();
    std::vector<char> buf(n + 1);
    EXPECT_EQ(vkc_detokenize(m, ids.data(), (int32_t)ids.size(), false, buf.data(), n + 1, &n), VKC_OK)
        << vkc_last_error();
    return std::string(buf.data(), n);
}

} // namespace

TEST_P(CApiCases, TokenizeAndDetokenizeEveryCase) {
    const std::string tok = GetParam();
    json cases = json::parse(read_text(fixtures_dir() + "/tokenizers/cases.json"));
    ASSERT_TRUE(cases.contains(tok));
    ASSERT_FALSE(cases[tok].empty());
    const std::string dir = model_copy("cases_" + tok.substr(0, tok.find('.')), -1, tok);
    vkc_model* m = load(dir);
    ASSERT_NE(m, nullptr);
    ASSERT_TRUE(vkc_model_has_tokenizer(m));
    for (const auto& c : cases[tok]) {
        const std::string text = c["text"].get<std::string>();
        const auto want = c["ids"].get<std::vector<int32_t>>();
        EXPECT_EQ(tokenize(m, text), want) << tok << ": " << text;
        EXPECT_EQ(detokenize(m, want), c["decoded"].get<std::string>()) << tok << ": " << text;
    }
    vkc_model_free(m);
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, CApiCases, ::testing::Values("bytelevel-bpe.json", "metaspace-bpe.json"),
                         [](const ::testing::TestParamInfo<const char*>& i) {
                             return std::string(i.param).substr(0, std::string(i.param).find('-'));
                         });
