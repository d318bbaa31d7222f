// The pure request parser (tools/server/request.h): OpenAI parameters and every rejection.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tools/server/request.h"

using namespace vkc::server;

namespace {

ParseResult parse(const std::string& body, Endpoint ep = Endpoint::completions) {
    ParseOptions o;
    o.served_model_name = "m";
    o.n_ctx = 256;
    return parse_request(body, ep, o);
}

void expect_bad(const std::string& body, int status, const std::string& param, Endpoint ep = Endpoint::completions) {
    ParseResult r = parse(body, ep);
    EXPECT_FALSE(r.ok) << body;
    EXPECT_EQ(r.error.status, status) << body << ": " << r.error.message;
    EXPECT_EQ(r.error.param, param) << body << ": " << r.error.message;
    EXPECT_FALSE(r.error.message.empty());
    auto j = nlohmann::json::parse(error_json(r.error));
    EXPECT_TRUE(j["error"]["message"].is_string() && !j["error"]["message"].empty()); // invalid UTF-8 replaced
    EXPECT_TRUE(j["error"].contains("type") && j["error"].contains("code") && j["error"].contains("param"));
}

TEST(ServerRequest, ParsesCompletionParameters) {
    ParseResult r = parse(R"({"model":"m","prompt":"hi","max_tokens":7,"temperature":0,"top_p":0.5,"top_k":3,
        "min_p":0.1,"stop":["a","b"],"seed":42,"presence_penalty":0.5,"frequency_penalty":-1,"n":1,
        "logprobs":2,"stream":true,"stream_options":{"include_usage":true},"ignore_eos":true})");
    ASSERT_TRUE(r.ok) << r.error.message;
    EXPECT_EQ(r.req.prompt, "hi");
    EXPECT_EQ(r.req.max_tokens, 7);
    EXPECT_EQ(r.req.temperature, 0.0f);
    EXPECT_EQ(r.req.top_p, 0.5f);
    EXPECT_EQ(r.req.top_k, 3);
    EXPECT_FLOAT_EQ(r.req.min_p, 0.1f);
    EXPECT_EQ(r.req.stop, (std::vector<std::string>{"a", "b"}));
    EXPECT_TRUE(r.req.has_seed);
    EXPECT_EQ(r.req.seed, 42u);
    EXPECT_EQ(r.req.presence_penalty, 0.5f);
    EXPECT_EQ(r.req.frequency_penalty, -1.0f);
    EXPECT_EQ(r.req.logprobs, 2);
    EXPECT_TRUE(r.req.stream && r.req.include_usage && r.req.ignore_eos);
}

TEST(ServerRequest, ParsesChatAndIdPrompts) {
    ParseResult r = parse(R"({"messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],
        "max_completion_tokens":5,"logprobs":true,"top_logprobs":3,"stop":"x"})", Endpoint::chat);
    ASSERT_TRUE(r.ok) << r.error.message;
    ASSERT_EQ(r.req.messages.size(), 2u);
    EXPECT_EQ(r.req.messages[1].content, "ab");
    EXPECT_EQ(r.req.max_tokens, 5);
    EXPECT_EQ(r.req.logprobs, 3);
    EXPECT_EQ(r.req.stop, std::vector<std::string>{"x"});
    ParseResult ids = parse(R"({"prompt":[5,6,7]})");
    ASSERT_TRUE(ids.ok) << ids.error.message;
    EXPECT_TRUE(ids.req.prompt_is_ids);
    EXPECT_EQ(ids.req.prompt_ids, (std::vector<int32_t>{5, 6, 7}));
    EXPECT_EQ(ids.req.max_tokens, -1);
    EXPECT_EQ(ids.req.temperature, 1.0f) << "OpenAI default";
}

TEST(ServerRequest, RejectsBadInput) {
    expect_bad("{not json", 400, "");
    expect_bad("", 400, "");
    expect_bad("[1,2]", 400, "");
    expect_bad("\"\xff\"", 400, "");
    expect_bad(R"({"prompt":"\ud800"})", 400, "");
    expect_bad(R"({"model":"other","prompt":"x"})", 404, "model");
    expect_bad(R"({"model":5,"prompt":"x"})", 400, "model");
    expect_bad(R"({"max_tokens":3})", 400, "prompt");
    expect_bad(R"({"prompt":""})", 400, "prompt");
    expect_bad(R"({"prompt":["a","b"]})", 400, "prompt");
    expect_bad(R"({"prompt":[1,-2]})", 400, "prompt");
    expect_bad(R"({"prompt":"x","max_tokens":257})", 400, "max_tokens");
    expect_bad(R"({"prompt":"x","max_tokens":0})", 400, "max_tokens");
    expect_bad(R"({"prompt":"x","max_tokens":1.5})", 400, "max_tokens");
    expect_bad(R"({"prompt":"x","max_tokens":99999999999999999999})", 400, "max_tokens");
    expect_bad(R"({"prompt":"x","temperature":-1})", 400, "temperature");
    expect_bad(R"({"prompt":"x","temperature":"hot"})", 400, "temperature");
    expect_bad(R"({"prompt":"x","top_p":0})", 400, "top_p");
    expect_bad(R"({"prompt":"x","top_p":1.5})", 400, "top_p");
    expect_bad(R"({"prompt":"x","min_p":2})", 400, "min_p");
    expect_bad(R"({"prompt":"x","top_k":1.5})", 400, "top_k");
    expect_bad(R"({"prompt":"x","n":2})", 400, "n");
    expect_bad(R"({"prompt":"x","stop":5})", 400, "stop");
    expect_bad(R"({"prompt":"x","stop":[1]})", 400, "stop");
    expect_bad(R"({"prompt":"x","seed":"s"})", 400, "seed");
    expect_bad(R"({"prompt":"x","stream":"yes"})", 400, "stream");
    expect_bad(R"({"prompt":"x","logprobs":9})", 400, "logprobs");
    expect_bad(R"({"prompt":"x","presence_penalty":3})", 400, "presence_penalty");
    expect_bad(R"({"messages":[]})", 400, "messages", Endpoint::chat);
    expect_bad(R"({"messages":[{"content":"x"}]})", 400, "messages", Endpoint::chat);
    expect_bad(R"({"messages":[{"role":"wizard","content":"x"}]})", 400, "messages", Endpoint::chat);
    expect_bad(R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})", 400, "messages[0].content", Endpoint::chat);
    expect_bad(R"({"messages":[{"role":"user","content":"x"}],"top_logprobs":2})", 400, "top_logprobs", Endpoint::chat);
}

TEST(ServerRequest, NeverThrowsOnTruncatedBodies) {
    const std::string full = R"({"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":4,"stop":["\n"]})";
    int ok = 0;
    for (size_t n = 0; n <= full.size(); ++n) ok += parse(full.substr(0, n), Endpoint::chat).ok;
    EXPECT_EQ(ok, 1) << "only the whole body parses";
}

} // namespace
