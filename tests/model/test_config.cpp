// config.json parsing (v1 / v2), tensor specs and check_tensors against fixtures and edited copies.
#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/safetensors.h"
#include "tests/common/test_util.h"

using namespace vkc;

namespace {

const std::string k_fix = VKC_FIXTURES_DIR;

using vkc::test::expect_error;
using vkc::test::make_temp_dir;

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}


// A config as key -> raw JSON value, so tests can set or drop single keys.
using Kv = std::map<std::string, std::string>;
std::string to_json(const Kv& kv) {
    std::string s = "{";
    for (const auto& p : kv) s += (s.size() > 1 ? ", \"" : "\"") + p.first + "\": " + p.second;
    return s + "}";
}
Kv v1_base() {
    return {{"model_type", "\"convgpt\""}, {"vocab_size", "512"}, {"hidden_size", "256"},
            {"num_hidden_layers", "3"},    {"num_attention_heads", "4"}, {"num_key_value_heads", "2"},
            {"head_dim", "32"},            {"intermediate_size", "128"}};
}
Kv v2_base() {
    return {{"model_type", "\"convgpt_v2\""}, {"vocab_size", "300"}, {"hidden_size", "64"},
            {"num_hidden_layers", "4"},       {"intermediate_size", "128"}, {"conv1d_kernel", "4"},
            {"conv2d_kernel", "3"},           {"grid_size", "32"},          {"memory_every", "2"},
            {"memory_chunk_size", "16"},      {"memory_top_k", "2"},        {"memory_heads", "4"},
            {"memory_head_dim", "16"}};
}
ModelConfig parse(const Kv& kv) { return parse_config_json(to_json(kv), "test.json"); }
void expect_config_error(const Kv& kv, std::initializer_list<std::string> parts,
                         Status st = Status::invalid_model) {
    expect_error([&] { parse(kv); }, st, parts);
}

// Copies a fixture checkpoint into a temp dir, letting `edit` change the tensor list first.
std::string copy_checkpoint(const std::string& src, const std::function<void(std::vector<TensorToWrite>&)>& edit,
                            const std::string& config_text = "") {
    TensorStore in = TensorStore::open_dir(src);
    std::vector<TensorToWrite> ts;
    for (const std::string& n : in.names()) {
        const TensorView& t = in.get(n);
        ts.push_back({n, t.dtype, t.shape, t.data});
    }
    edit(ts);
    const std::string dir = make_temp_dir("ckpt");
    write_safetensors(dir + "/model.safetensors", ts);
    std::ofstream(dir + "/config.json") << (config_text.empty() ? read_text(src + "/config.json") : config_text);
    return dir;
}
void erase_tensor(std::vector<TensorToWrite>& ts, const std::string& name) {
    auto it = std::find_if(ts.begin(), ts.end(), [&](const TensorToWrite& t) { return t.name == name; });
    ASSERT_NE(it, ts.end()) << name;
    ts.erase(it);
}
TensorToWrite* find_tensor(std::vector<TensorToWrite>& ts, const std::string& name) {
    for (auto& t : ts)
        if (t.name == name) return &t;
    return nullptr;
}
void check_dir(const std::string& dir) {
    ModelConfig mc = load_config(dir);
    TensorStore s = TensorStore::open_dir(dir);
    check_tensors(s, mc.arch == Arch::v1 ? v1_tensor_specs(mc.v1) : v2_tensor_specs(mc.v2));
}

const float k_zeros[4096] = {};

} // namespace

TEST(Config, V1Fixtures) {
    ModelConfig t = load_config(k_fix + "/v1-tiny-tied/f32");
    ASSERT_EQ(t.arch, Arch::v1);
    const V1Config& c = t.v1;
    EXPECT_EQ(c.vocab_size, 512);
    EXPECT_EQ(c.hidden_size, 256);
    EXPECT_EQ(c.e, 16);
    EXPECT_EQ(c.f, 2);
    EXPECT_EQ(c.td, 64);
    EXPECT_EQ(c.conv_k, 3);
    EXPECT_EQ(c.n_layers, 2);
    EXPECT_EQ(c.n_heads, 4);
    EXPECT_EQ(c.n_kv_heads, 2);
    EXPECT_EQ(c.head_dim, 32);
    EXPECT_EQ(c.intermediate_size, 128);
    EXPECT_FLOAT_EQ(c.rope_theta, 10000.f);
    EXPECT_FLOAT_EQ(c.rms_norm_eps, 1e-6f);
    EXPECT_TRUE(c.tie_word_embeddings);
    EXPECT_EQ(c.layer_sliding, (std::vector<bool>{false, false}));
    EXPECT_EQ(c.sliding_window, 0);
    EXPECT_EQ(t.max_context(), 256);
    EXPECT_EQ(t.vocab_size(), 512);
    EXPECT_EQ(c.bos_token_id, 0);
    EXPECT_EQ(c.eos_token_id, 2);
    EXPECT_EQ(c.pad_token_id, 1);

    const V1Config u = load_config(k_fix + "/v1-tiny-untied/bf16").v1;
    EXPECT_FALSE(u.tie_word_embeddings);
    EXPECT_EQ(u.conv_k, 5);
    EXPECT_EQ(u.e, 24);
    EXPECT_EQ(u.td, 144);
    EXPECT_EQ(u.head_dim, 48);

    const V1Config s = load_config(k_fix + "/v1-tiny-swa/f32").v1;
    EXPECT_EQ(s.sliding_window, 6);
    EXPECT_EQ(s.layer_sliding, (std::vector<bool>{false, true, true}));
    EXPECT_EQ(s.n_kv_heads, 1);
}

TEST(Config, V2Fixtures) {
    ModelConfig t = load_config(k_fix + "/v2-tiny");
    ASSERT_EQ(t.arch, Arch::v2);
    const V2Config& c = t.v2;
    EXPECT_EQ(c.hidden_size, 64);
    EXPECT_EQ(c.n_layers, 4);
    EXPECT_EQ(c.conv1d_kernel, 4);
    EXPECT_EQ(c.conv2d_kernel, 3);
    EXPECT_EQ(c.grid_size, 32);
    EXPECT_EQ(c.memory_chunk_size, 16);
    EXPECT_EQ(c.memory_top_k, 2);
    EXPECT_EQ(c.memory_heads, 4);
    EXPECT_EQ(c.memory_head_dim, 16);
    EXPECT_EQ(c.memory_rope, (std::vector<bool>{true, false})); // default alternates from "rope"
    EXPECT_TRUE(c.tie_word_embeddings);
    EXPECT_EQ(t.max_context(), 1024);
    EXPECT_FALSE(c.layer_has_memory(0));
    EXPECT_TRUE(c.layer_has_memory(1));
    EXPECT_TRUE(c.layer_has_memory(3));

    ModelConfig g = load_config(k_fix + "/v2-tiny-g256");
    EXPECT_EQ(g.max_context(), 65536);
    EXPECT_EQ(g.v2.memory_rope, (std::vector<bool>{false}));
    EXPECT_FALSE(g.v2.tie_word_embeddings);
    EXPECT_EQ(g.v2.conv2d_kernel, 5);
}

TEST(Config, V1DerivedDimsWhenAbsent) {
    Kv kv = v1_base(); // no emb_dim_factor / emb_factor / transformer_dim
    V1Config c = parse(kv).v1;
    EXPECT_EQ(c.e, 16);
    EXPECT_EQ(c.f, 2);
    EXPECT_EQ(c.td, 64);
    EXPECT_EQ(c.conv_k, 3);
    EXPECT_TRUE(c.tie_word_embeddings);
    EXPECT_EQ(c.bos_token_id, -1);
    EXPECT_EQ(parse(kv).max_context(), 0);

    kv["hidden_size"] = "1296"; // the public 164M model: e 36, f 3, td 144
    kv["num_attention_heads"] = "16";
    kv["num_key_value_heads"] = "8";
    kv["head_dim"] = "128";
    c = parse(kv).v1;
    EXPECT_EQ(c.e, 36);
    EXPECT_EQ(c.f, 3);
    EXPECT_EQ(c.td, 144);
    EXPECT_EQ(c.head_dim, 128);

    kv["hidden_size"] = "576";
    kv.erase("head_dim"); // derived: td / heads = 144 / 4
    kv["num_attention_heads"] = "4";
    kv["num_key_value_heads"] = "4";
    c = parse(kv).v1;
    EXPECT_EQ(c.e, 24);
    EXPECT_EQ(c.f, 2);
    EXPECT_EQ(c.td, 144);
    EXPECT_EQ(c.head_dim, 36);

    kv.erase("num_key_value_heads");
    EXPECT_EQ(parse(kv).v1.n_kv_heads, 4);

    // Explicit and consistent values are accepted even when they differ from the derivation.
    kv["emb_dim_factor"] = "24";
    kv["emb_factor"] = "4";
    kv["transformer_dim"] = "36";
    kv["head_dim"] = "8";
    c = parse(kv).v1;
    EXPECT_EQ(c.f, 4);
    EXPECT_EQ(c.td, 36);
}

TEST(Config, V1InconsistentDims) {
    Kv kv = v1_base();
    kv["hidden_size"] = "300";
    expect_config_error(kv, {"test.json", "hidden_size", "300", "perfect square"});
    kv = v1_base();
    kv["emb_dim_factor"] = "15";
    expect_config_error(kv, {"emb_dim_factor", "hidden_size"});
    kv = v1_base();
    kv["emb_factor"] = "3";
    expect_config_error(kv, {"emb_factor", "divide"});
    kv = v1_base();
    kv["emb_factor"] = "0";
    expect_config_error(kv, {"emb_factor"});
    kv = v1_base();
    kv["transformer_dim"] = "100";
    expect_config_error(kv, {"transformer_dim"});
    kv = v1_base();
    kv["hidden_size"] = "9"; // e = 3 -> floor(sqrt(3)) / 2 = 0
    expect_config_error(kv, {"emb_factor"});
}

TEST(Config, V1RequiredAndTypedKeys) {
    Kv kv = v1_base();
    kv.erase("vocab_size");
    expect_config_error(kv, {"vocab_size", "missing"});
    kv = v1_base();
    kv["hidden_size"] = "-4";
    expect_config_error(kv, {"hidden_size", "positive"});
    kv = v1_base();
    kv["num_hidden_layers"] = "\"two\"";
    expect_config_error(kv, {"num_hidden_layers", "integer"});
    kv = v1_base();
    kv["intermediate_size"] = "0";
    expect_config_error(kv, {"intermediate_size"});
    kv = v1_base();
    kv["num_key_value_heads"] = "3";
    expect_config_error(kv, {"num_attention_heads", "num_key_value_heads"});
    kv = v1_base();
    kv["head_dim"] = "31";
    expect_config_error(kv, {"head_dim", "even"});
    kv = v1_base();
    kv["hidden_size"] = "256.0"; // integral floats are fine
    kv["tie_word_embeddings"] = "false";
    kv["eos_token_id"] = "[2, 5]";
    kv["pad_token_id"] = "null";
    V1Config c = parse(kv).v1;
    EXPECT_EQ(c.hidden_size, 256);
    EXPECT_FALSE(c.tie_word_embeddings);
    EXPECT_EQ(c.eos_token_id, 2);
    EXPECT_EQ(c.pad_token_id, -1);
    kv["tie_word_embeddings"] = "\"yes\"";
    expect_config_error(kv, {"tie_word_embeddings"});
}

TEST(Config, RopeThetaBothForms) {
    Kv kv = v1_base();
    EXPECT_FLOAT_EQ(parse(kv).v1.rope_theta, 10000.f);
    kv["rope_theta"] = "500000.0";
    EXPECT_FLOAT_EQ(parse(kv).v1.rope_theta, 500000.f);
    kv.erase("rope_theta");
    kv["rope_parameters"] = R"({"rope_theta": 1000000.0, "rope_type": "default"})";
    EXPECT_FLOAT_EQ(parse(kv).v1.rope_theta, 1e6f);
    kv["rope_theta"] = "1000000";
    EXPECT_FLOAT_EQ(parse(kv).v1.rope_theta, 1e6f);
    kv["rope_theta"] = "20000";
    expect_config_error(kv, {"rope_theta", "disagree"});
    kv.erase("rope_theta");
    kv["rope_parameters"] = R"({"rope_theta": 10000.0, "rope_type": "yarn", "factor": 4.0})";
    expect_config_error(kv, {"rope_type", "yarn"}, Status::unsupported);
    kv["rope_parameters"] = R"({"rope_type": "default"})";
    EXPECT_FLOAT_EQ(parse(kv).v1.rope_theta, 10000.f);
    kv["rope_theta"] = "-1";
    expect_config_error(kv, {"rope_theta"});
    // v2 reads the same keys.
    Kv v2 = v2_base();
    v2["rope_parameters"] = R"({"rope_theta": 250000.0})";
    EXPECT_FLOAT_EQ(parse(v2).v2.rope_theta, 250000.f);
}

TEST(Config, ConvKernelForms) {
    Kv kv = v1_base();
    kv["conv_kernel_h_w"] = "5";
    EXPECT_EQ(parse(kv).v1.conv_k, 5);
    kv["conv_kernel_h_w"] = "[1, 7]";
    EXPECT_EQ(parse(kv).v1.conv_k, 7);
    kv["conv_kernel_h_w"] = "[4]";
    EXPECT_EQ(parse(kv).v1.conv_k, 4);
    kv["conv_kernel_h_w"] = "[]";
    expect_config_error(kv, {"conv_kernel_h_w"});
    kv["conv_kernel_h_w"] = "0";
    expect_config_error(kv, {"conv_kernel_h_w"});
}

TEST(Config, SlidingWindowLayers) {
    Kv kv = v1_base(); // 3 layers
    kv["sliding_window"] = "4";
    kv["max_window_layers"] = "1";
    V1Config c = parse(kv).v1;
    EXPECT_EQ(c.sliding_window, 4);
    EXPECT_EQ(c.layer_sliding, (std::vector<bool>{false, true, true}));
    kv.erase("max_window_layers");
    EXPECT_EQ(parse(kv).v1.layer_sliding, (std::vector<bool>{true, true, true}));
    kv["use_sliding_window"] = "false";
    EXPECT_EQ(parse(kv).v1.layer_sliding, (std::vector<bool>{false, false, false}));
    kv.erase("use_sliding_window");
    kv["sliding_window"] = "null";
    kv["max_window_layers"] = "0";
    c = parse(kv).v1;
    EXPECT_EQ(c.sliding_window, 0);
    EXPECT_EQ(c.layer_sliding, (std::vector<bool>{false, false, false}));
    kv["sliding_window"] = "4";
    kv["layer_types"] = R"(["sliding_attention", "full_attention", "sliding_attention"])";
    EXPECT_EQ(parse(kv).v1.layer_sliding, (std::vector<bool>{true, false, true}));
    kv["layer_types"] = R"(["full_attention", "full_attention"])";
    expect_config_error(kv, {"layer_types", "num_hidden_layers"});
    kv["layer_types"] = R"(["full_attention", "chunked_attention", "full_attention"])";
    expect_config_error(kv, {"layer_types[1]", "chunked_attention"});
    kv["layer_types"] = R"(["full_attention", "sliding_attention", "full_attention"])";
    kv["sliding_window"] = "null";
    expect_config_error(kv, {"sliding_attention", "sliding_window"});
}

TEST(Config, ModelType) {
    Kv kv = v1_base();
    kv["model_type"] = "\"llama\"";
    expect_config_error(kv, {"model_type", "llama"});
    kv.erase("model_type");
    expect_config_error(kv, {"model_type"});
    expect_error([] { parse_config_json("{\"model_type\": ", "cfg.json"); }, Status::invalid_model,
                 {"cfg.json", "JSON"});
    expect_error([] { parse_config_json("[1]", "cfg.json"); }, Status::invalid_model, {"cfg.json", "object"});
    expect_error([] { load_config("/nonexistent/model"); }, Status::io_error, {"/nonexistent/model/config.json"});
}

TEST(Config, V2Checks) {
    Kv kv = v2_base();
    V2Config c = parse(kv).v2;
    EXPECT_EQ(c.memory_rope, (std::vector<bool>{true, false}));
    EXPECT_FLOAT_EQ(c.rope_theta, 10000.f);
    EXPECT_EQ(c.n_memory_layers(), 2);

    kv["num_hidden_layers"] = "6";
    kv["memory_every"] = "2";
    EXPECT_EQ(parse(kv).v2.memory_rope, (std::vector<bool>{true, false, true}));
    kv["memory_every"] = "4"; // memory on layer 3 only
    EXPECT_EQ(parse(kv).v2.memory_rope, (std::vector<bool>{true}));
    kv["memory_position_modes"] = R"(["none"])";
    EXPECT_EQ(parse(kv).v2.memory_rope, (std::vector<bool>{false}));
    kv["memory_position_modes"] = R"(["none", "rope"])";
    expect_config_error(kv, {"memory_position_modes", "1"});
    kv["memory_position_modes"] = R"(["alibi"])";
    expect_config_error(kv, {"memory_position_modes", "alibi"});

    kv = v2_base();
    kv["grid_size"] = "48";
    expect_config_error(kv, {"grid_size", "power of two"});
    kv["grid_size"] = "65536";
    expect_config_error(kv, {"grid_size"});
    kv = v2_base();
    kv["conv2d_kernel"] = "4";
    expect_config_error(kv, {"conv2d_kernel", "odd"});
    kv = v2_base();
    kv["memory_every"] = "0";
    expect_config_error(kv, {"memory_every"});
    kv = v2_base();
    kv["memory_chunk_size"] = "0";
    expect_config_error(kv, {"memory_chunk_size"});
    kv = v2_base();
    kv["memory_top_k"] = "0";
    expect_config_error(kv, {"memory_top_k"});
    kv = v2_base();
    kv.erase("memory_heads");
    expect_config_error(kv, {"memory_heads", "missing"});
    kv = v2_base();
    kv["memory_head_dim"] = "15"; // rope needs pairs
    expect_config_error(kv, {"memory_head_dim", "even"});
    kv["memory_position_modes"] = R"(["none", "none"])";
    EXPECT_EQ(parse(kv).v2.memory_head_dim, 15);
}

TEST(TensorSpecs, V2NamesAndCounts) {
    const V2Config c = parse(v2_base()).v2; // 4 layers, memory on 1 and 3
    const auto specs = v2_tensor_specs(c);
    EXPECT_EQ(specs.size(), 1 + 4 * 13 + 2 * 5 + 1 + 1u);
    std::map<std::string, TensorSpec> by;
    for (const auto& s : specs) by[s.name] = s;
    EXPECT_EQ(by.at("model.layers.0.mixer.in_proj.weight").shape, (std::vector<int64_t>{128, 64}));
    EXPECT_EQ(by.at("model.layers.2.mixer.conv2d.weight").shape, (std::vector<int64_t>{64, 1, 3, 3}));
    EXPECT_EQ(by.at("model.layers.3.memory.o_proj.weight").shape, (std::vector<int64_t>{64, 64}));
    EXPECT_EQ(by.count("model.layers.2.memory.q_proj.weight"), 0u);
    EXPECT_TRUE(by.at("lm_head.weight").optional);
    Kv kv = v2_base();
    kv["tie_word_embeddings"] = "false";
    for (const auto& s : v2_tensor_specs(parse(kv).v2))
        if (s.name == "lm_head.weight") {
            EXPECT_FALSE(s.optional);
        }
}

TEST(CheckTensors, WrongShapeNamesTensor) {
    static float bias[32] = {};
    const std::string dir = copy_checkpoint(k_fix + "/v2-tiny", [](std::vector<TensorToWrite>& ts) {
        TensorToWrite* t = find_tensor(ts, "model.layers.0.mixer.conv1d.bias");
        ASSERT_NE(t, nullptr);
        *t = {t->name, DType::f32, {32}, bias};
    });
    expect_error([&] { check_dir(dir); }, Status::invalid_model,
                 {"tensor 'model.layers.0.mixer.conv1d.bias' has shape [32], expected [64]"});
}

TEST(CheckTensors, MissingMemoryTensor) {
    const std::string dir = copy_checkpoint(k_fix + "/v2-tiny", [](std::vector<TensorToWrite>& ts) {
        erase_tensor(ts, "model.layers.1.memory.q_proj.weight");
    });
    expect_error([&] { check_dir(dir); }, Status::invalid_model,
                 {"missing tensor 'model.layers.1.memory.q_proj.weight' (expected shape [64, 64])"});
    const std::string dir2 = copy_checkpoint(k_fix + "/v2-tiny", [](std::vector<TensorToWrite>& ts) {
        erase_tensor(ts, "model.layers.3.memory_norm.weight");
    });
    expect_error([&] { check_dir(dir2); }, Status::invalid_model, {"missing tensor 'model.layers.3.memory_norm.weight'"});
}

TEST(CheckTensors, UnknownTensor) {
    const std::string dir = copy_checkpoint(k_fix + "/v2-tiny", [](std::vector<TensorToWrite>& ts) {
        ts.push_back({"model.layers.0.memory.q_proj.weight", DType::f32, {64, 64}, k_zeros}); // layer 0 has no memory
    });
    expect_error([&] { check_dir(dir); }, Status::invalid_model, {"unknown tensor 'model.layers.0.memory.q_proj.weight'"});
}

TEST(CheckTensors, NonFloatDtype) {
    const std::string dir = copy_checkpoint(k_fix + "/v1-tiny-tied/f32", [](std::vector<TensorToWrite>& ts) {
        TensorToWrite* t = find_tensor(ts, "model.layers.1.norm1.weight");
        ASSERT_NE(t, nullptr);
        t->dtype = DType::i32;
    });
    expect_error([&] { check_dir(dir); }, Status::invalid_model, {"'model.layers.1.norm1.weight'", "I32"});
}

TEST(CheckTensors, V1HeadVariants) {
    // A tied checkpoint may carry lm_head.weight [V, H]; any other shape is an error.
    std::string dir = copy_checkpoint(k_fix + "/v1-tiny-tied/f32", [](std::vector<TensorToWrite>& ts) {
        ts.push_back({"lm_head.weight", DType::f32, {512, 256}, find_tensor(ts, "model.embed_tokens.weight")->data});
    });
    EXPECT_NO_THROW(check_dir(dir));
    dir = copy_checkpoint(k_fix + "/v1-tiny-tied/f32", [](std::vector<TensorToWrite>& ts) {
        ts.push_back({"lm_head.weight", DType::f32, {512, 64}, find_tensor(ts, "model.embed_tokens.weight")->data});
    });
    expect_error([&] { check_dir(dir); }, Status::invalid_model, {"'lm_head.weight'", "[512, 64]", "[512, 256]"});

    // The same tensors under an untied config: lm_head and a [td] norm are required.
    std::string cfg = read_text(k_fix + "/v1-tiny-tied/f32/config.json");
    const std::string key = "\"tie_word_embeddings\": true";
    ASSERT_NE(cfg.find(key), std::string::npos);
    cfg.replace(cfg.find(key), key.size(), "\"tie_word_embeddings\": false");
    dir = copy_checkpoint(k_fix + "/v1-tiny-tied/f32", [](std::vector<TensorToWrite>&) {}, cfg);
    expect_error([&] { check_dir(dir); }, Status::invalid_model, {"'model.norm.weight'", "[256]", "[64]"});

    // Untied fixture without its head.
    dir = copy_checkpoint(k_fix + "/v1-tiny-untied/f32",
                          [](std::vector<TensorToWrite>& ts) { erase_tensor(ts, "lm_head.weight"); });
    expect_error([&] { check_dir(dir); }, Status::invalid_model, {"missing tensor 'lm_head.weight' (expected shape [700, 144])"});
}

TEST(CheckTensors, ShardedCopyOfFixturePasses) {
    // Split v2-tiny-g256 into two shards plus an index; it must load and check like the original.
    const std::string src = k_fix + "/v2-tiny-g256";
    TensorStore in = TensorStore::open_dir(src);
    std::vector<TensorToWrite> a, b;
    std::string wm;
    for (const std::string& n : in.names()) {
        const TensorView& t = in.get(n);
        const bool first = n.find("layers.1.") == std::string::npos;
        (first ? a : b).push_back({n, t.dtype, t.shape, t.data});
        wm += (wm.empty() ? "\"" : ", \"") + n + "\": \"" + (first ? "s1.safetensors" : "s2.safetensors") + "\"";
    }
    const std::string dir = make_temp_dir("shardfix");
    write_safetensors(dir + "/s1.safetensors", a);
    write_safetensors(dir + "/s2.safetensors", b);
    std::ofstream(dir + "/model.safetensors.index.json") << "{\"weight_map\": {" << wm << "}}";
    std::ofstream(dir + "/config.json") << read_text(src + "/config.json");
    EXPECT_NO_THROW(check_dir(dir));
    TensorStore s = TensorStore::open_dir(dir);
    EXPECT_EQ(s.names(), in.names());
    const TensorView& t0 = s.get("model.layers.1.memory.v_proj.weight");
    const TensorView& t1 = in.get("model.layers.1.memory.v_proj.weight");
    ASSERT_EQ(t0.nbytes, t1.nbytes);
    EXPECT_EQ(std::memcmp(t0.data, t1.data, t0.nbytes), 0);
}
