// vkconvgpt-run's text subcommands as a user runs them: tokenize against the tokenizer fixtures,
// generate (greedy ids, one-line errors), chat (two turns through stdin, the second reusing the first).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "model/safetensors.h"
#include "tests/common/test_env.h"

using namespace vkc;
using nlohmann::json;

namespace {

struct Result {
    int code;
    std::string out, err;
};

std::string tmp(const std::string& name) { return ::testing::TempDir() + "/vkc_clitext_" + std::to_string(getpid()) + "_" + name; }

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

void spit(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary);
    f << text;
}

// Single-quoted for /bin/sh.
std::string q(const std::string& s) {
    std::string r = "'";
    for (char c : s) r += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return r + "'";
}

// Runs the binary with args (already quoted), stdin from `in`; stdout and stderr apart.
Result run(const std::string& args, const std::string& in = "") {
    const std::string in_path = tmp("stdin"), err_path = tmp("stderr");
    spit(in_path, in);
    std::string cmd = std::string(VKC_RUN_BIN) + " " + args + " <" + q(in_path) + " 2>" + q(err_path);
    Result r{-1, "", ""};
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return r;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
    int st = pclose(p);
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.err = slurp(err_path);
    return r;
}

std::string fixtures() { return test::fixtures_dir(); }
std::string tiny() { return fixtures() + "/v1-tiny-tied/f32"; }

std::string ids_csv(const std::string& name) {
    auto f = SafetensorsFile::open(fixtures() + "/v1-tiny-tied/expected.safetensors");
    const TensorView& t = f->tensors().at(name);
    std::string s;
    for (int64_t i = 0; i < t.numel(); ++i) {
        int64_t x;
        std::memcpy(&x, t.data + i * 8, 8);
        s += (i ? "," : "") + std::to_string(x);
    }
    return s;
}

// A copy of v1-tiny-tied/f32 (weights symlinked) with the byte-level tokenizer and a ChatML template.
std::string chat_model_dir() {
    const std::string dir = tmp("chatmodel");
    EXPECT_EQ(std::system(("rm -rf " + q(dir) + " && mkdir -p " + q(dir) + " && cp " + q(tiny() + "/config.json") +
                           " " + q(dir) + " && ln -s " + q(tiny() + "/model.safetensors") + " " + q(dir) + "/ && cp " +
                           q(fixtures() + "/tokenizers/bytelevel-bpe.json") + " " + q(dir + "/tokenizer.json"))
                              .c_str()),
              0);
    json cfg;
    // ChatML, except that the assistant's role is written "bot": "assistant" tokenizes to ids beyond the
    // tiny model's 512-token vocab (<|im_start|> is 1 and <|im_end|> is 2, the model's eos).
    cfg["chat_template"] =
        "{% for message in messages %}{% set role = 'bot' if message['role'] == 'assistant' else message['role'] %}"
        "{{'<|im_start|>' + role + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>bot\\n' }}{% endif %}";
    spit(dir + "/tokenizer_config.json", cfg.dump());
    return dir;
}

} // namespace

TEST(CliText, TokenizeMatchesEveryFixtureCase) {
    json cases = json::parse(slurp(fixtures() + "/tokenizers/cases.json"));
    for (const char* tok : {"bytelevel-bpe.json", "metaspace-bpe.json"}) {
        ASSERT_TRUE(cases.contains(tok));
        ASSERT_FALSE(cases[tok].empty());
        for (const auto& c : cases[tok]) {
            const std::string text = c["text"].get<std::string>();
            Result r = run("tokenize --tokenizer " + q(fixtures() + "/tokenizers/" + tok) + " --text=" + q(text));
            ASSERT_EQ(r.code, 0) << tok << " " << text << "\n" << r.err;
            ASSERT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
            std::vector<int32_t> got = json::parse(r.out).get<std::vector<int32_t>>();
            EXPECT_EQ(got, c["ids"].get<std::vector<int32_t>>()) << tok << ": " << text;
        }
    }
}

TEST(CliText, TokenizeBadInputGivesOneLineErrors) {
    const std::string tok = fixtures() + "/tokenizers/bytelevel-bpe.json";
    Result a = run("tokenize --tokenizer /nonexistent/tokenizer.json --text hi");
    Result b = run("tokenize --tokenizer " + q(tok) + " --text \"$(printf 'ab\\377cd')\"");
    for (const Result* r : {&a, &b}) {
        EXPECT_NE(r->code, 0);
        EXPECT_NE(r->err.find("error"), std::string::npos) << r->err;
        EXPECT_EQ(std::count(r->err.begin(), r->err.end(), '\n'), 1) << r->err;
        EXPECT_TRUE(r->out.empty()) << r->out;
    }
    EXPECT_NE(a.err.find("/nonexistent/tokenizer.json"), std::string::npos) << a.err;
    EXPECT_NE(b.err.find("UTF-8"), std::string::npos) << b.err;
}

TEST(CliText, GenerateIdsGreedyMatchesTheReference) {
    Result r = run("generate --model " + q(tiny()) + " --ids " + ids_csv("gen_prompt") +
                   " -n 24 --temp 0 --precision f32");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, ids_csv("gen_greedy") + "\n");
    EXPECT_NE(r.err.find("prompt 8 tokens, generated 24 tokens, "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(" tokens/s"), std::string::npos) << r.err;
}

TEST(CliText, GenerateTextStreamsAndStops) {
    const std::string dir = chat_model_dir();
    Result r = run("generate --model " + q(dir) + " --prompt " + q("Hello") + " -n 8 --temp 0 --precision f32");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("generated 8 tokens"), std::string::npos) << r.err;
    // A stop string equal to the whole greedy text: nothing of it is printed.
    const std::string text = r.out.substr(0, r.out.size() - 1);
    if (!text.empty()) {
        Result st = run("generate --model " + q(dir) + " --prompt Hello -n 8 --temp 0 --precision f32 --stop " + q(text));
        ASSERT_EQ(st.code, 0) << st.err;
        EXPECT_EQ(st.out.find(text), std::string::npos) << st.out;
        EXPECT_LE(st.out.size(), 1u) << st.out;
    }
    // Same prompt with a seed and sampling: deterministic.
    Result s1 = run("generate --model " + q(dir) + " --prompt Hello -n 8 --temp 1 --seed 7 --top-k 0 --top-p 1 --min-p 0");
    Result s2 = run("generate --model " + q(dir) + " --prompt Hello -n 8 --temp 1 --seed 7 --top-k 0 --top-p 1 --min-p 0");
    ASSERT_EQ(s1.code, 0) << s1.err;
    EXPECT_EQ(s1.out, s2.out);
}

TEST(CliText, GenerateBadInputGivesOneLineErrors) {
    const std::string dir = chat_model_dir();
    const std::string bad_utf8 = tmp("bad_utf8.txt");
    spit(bad_utf8, "abc\xC3(def");
    struct {
        std::string args, expect;
    } cases[] = {
        {"generate --model " + q(dir) + " --prompt ''", "empty"},
        {"generate --model " + q(dir) + " --prompt-file " + q(bad_utf8), "UTF-8"},
        {"generate --model " + q(dir) + " --prompt-file /nonexistent/prompt.txt", "/nonexistent/prompt.txt"},
        {"generate --model " + q(tiny()) + " --ids " + ids_csv("gen_prompt") + " --ctx 4", "8"},
        {"generate --model /nonexistent/model --prompt hi", "/nonexistent/model"},
        {"generate --model " + q(tiny()) + " --prompt hi", "tokenizer"},
        {"generate --model " + q(tiny()) + " --ids 1,2 --precision f8", "--precision"},
    };
    for (auto& c : cases) {
        Result r = run(c.args);
        EXPECT_NE(r.code, 0) << c.args;
        EXPECT_NE(r.err.find("error"), std::string::npos) << c.args << "\n" << r.err;
        EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.args << "\n" << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.args << "\n" << r.err;
    }
}

TEST(CliText, ChatTwoTurnsReusesTheFirst) {
    const std::string dir = chat_model_dir();
    Result r = run("chat --model " + q(dir) + " --temp 0 -n 4 --precision f32", "Hello\nHello Hello\n");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out; // one line per reply
    unsigned k1 = 0, p1 = 99, k2 = 0, p2 = 0, g1 = 0, g2 = 0;
    size_t at1 = r.err.find("turn 1: "), at2 = r.err.find("turn 2: ");
    ASSERT_NE(at1, std::string::npos) << r.err;
    ASSERT_NE(at2, std::string::npos) << r.err;
    ASSERT_EQ(std::sscanf(r.err.c_str() + at1, "turn 1: evaluated %u new tokens, reused %u", &k1, &p1), 2) << r.err;
    ASSERT_EQ(std::sscanf(r.err.c_str() + at2, "turn 2: evaluated %u new tokens, reused %u", &k2, &p2), 2) << r.err;
    size_t gen1 = r.err.find("generated ", at1), gen2 = r.err.find("generated ", at2);
    ASSERT_NE(gen2, std::string::npos);
    std::sscanf(r.err.c_str() + gen1, "generated %u", &g1);
    std::sscanf(r.err.c_str() + gen2, "generated %u", &g2);
    EXPECT_EQ(p1, 0u);
    EXPECT_GT(k1, 0u);
    EXPECT_GT(g1, 0u);
    EXPECT_GT(g2, 0u);
    // The second turn evaluates only what is new: the session held turn 1's prompt and reply.
    // (a stopping eos is not kept, hence k1 + g1 - 1 at least)
    EXPECT_GE(p2, k1 + g1 - 1) << r.err;
    EXPECT_LE(p2, k1 + g1) << r.err;
    EXPECT_GT(p2, 0u);
    EXPECT_GT(k2, 0u);
}

TEST(CliText, ChatWithoutTemplateAsksForChatml) {
    const std::string dir = tmp("notemplate");
    ASSERT_EQ(std::system(("rm -rf " + q(dir) + " && mkdir -p " + q(dir) + " && cp " + q(tiny() + "/config.json") + " " +
                           q(dir) + " && ln -s " + q(tiny() + "/model.safetensors") + " " + q(dir) + "/ && cp " +
                           q(fixtures() + "/tokenizers/bytelevel-bpe.json") + " " + q(dir + "/tokenizer.json"))
                              .c_str()),
              0);
    Result r = run("chat --model " + q(dir) + " --temp 0 -n 2 --precision f32", "Hello\n");
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("--chatml"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    // With --chatml the template is no obstacle ("/exit" ends before a turn: ChatML's "assistant" tokenizes
    // to ids beyond this tiny model's vocab, so no turn could be evaluated here).
    Result ok = run("chat --model " + q(dir) + " --chatml --temp 0 -n 2 --precision f32", "/exit\nnot read\n");
    EXPECT_EQ(ok.code, 0) << ok.err;
    EXPECT_EQ(ok.err.find("turn 1: "), std::string::npos) << ok.err;
}
