// Tokenizer::load: picks tokenizer.json (HF) or a SentencePiece .model, then applies
// tokenizer_config.json (special tokens, add_bos/add_eos, chat template) found next to it.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "host/text/tokenizer_load.h"
#include "runtime/status.h"

namespace vkc {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

json read_json(const fs::path& p) {
    std::ifstream f(p);
    if (!f) fail(Status::io_error, "cannot open " + p.string());
    try {
        return json::parse(f);
    } catch (const json::exception& e) {
        fail(Status::invalid_model, p.string() + ": not valid JSON: " + e.what());
    }
}

std::string read_text(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// "<s>" or {"content": "<s>", ...}; null -> "" (no such token).
bool token_string(const json& v, std::string* out) {
    if (v.is_string()) { *out = v.get<std::string>(); return true; }
    if (v.is_object() && v.contains("content") && v["content"].is_string()) { *out = v["content"].get<std::string>(); return true; }
    if (v.is_null()) { out->clear(); return true; }
    return false;
}

std::string chat_template_of(const json& cfg, const fs::path& dir) {
    if (cfg.contains("chat_template")) {
        const json& t = cfg["chat_template"];
        if (t.is_string()) return t.get<std::string>();
        if (t.is_array()) {
            for (const auto& e : t)
                if (e.value("name", "") == "default" && e.contains("template")) return e["template"].get<std::string>();
            return "";
        }
    }
    if (fs::exists(dir / "chat_template.jinja")) return read_text(dir / "chat_template.jinja");
    if (fs::exists(dir / "chat_template.json")) {
        json j = read_json(dir / "chat_template.json");
        if (j.contains("chat_template") && j["chat_template"].is_string()) return j["chat_template"].get<std::string>();
    }
    return "";
}
} // namespace

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& path) {
    fs::path p(path), dir, file;
    bool hf;
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
        dir = p;
        if (fs::exists(p / "tokenizer.json")) { file = p / "tokenizer.json"; hf = true; }
        else if (fs::exists(p / "tokenizer.model")) { file = p / "tokenizer.model"; hf = false; }
        else fail(Status::io_error, "no tokenizer.json or tokenizer.model in " + path);
    } else if (fs::exists(p, ec)) {
        file = p;
        dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
        hf = p.extension() == ".json";
    } else {
        fail(Status::io_error, "tokenizer not found: " + path);
    }

    json cfg = json::object();
    if (fs::exists(dir / "tokenizer_config.json")) cfg = read_json(dir / "tokenizer_config.json");
    if (!cfg.is_object()) fail(Status::invalid_model, (dir / "tokenizer_config.json").string() + ": not an object");

    std::unique_ptr<Tokenizer> tok;
    if (hf) {
        tok = load_hf_tokenizer(file.string());
    } else {
        std::vector<text::AddedToken> extra;
        if (cfg.contains("added_tokens_decoder") && cfg["added_tokens_decoder"].is_object())
            for (auto it = cfg["added_tokens_decoder"].begin(); it != cfg["added_tokens_decoder"].end(); ++it) {
                text::AddedToken t;
                t.id = std::stoi(it.key());
                const json& v = it.value();
                t.content = v.value("content", "");
                t.single_word = v.value("single_word", false);
                t.lstrip = v.value("lstrip", false);
                t.rstrip = v.value("rstrip", false);
                t.special = v.value("special", false);
                if (!t.content.empty()) extra.push_back(t);
            }
        tok = load_sp_tokenizer(file.string(), extra);
    }

    SpecialTokens& sp = tok->special_;
    const std::pair<const char*, int32_t*> keys[] = {
        {"bos_token", &sp.bos}, {"eos_token", &sp.eos}, {"pad_token", &sp.pad}, {"unk_token", &sp.unk}};
    for (auto [key, slot] : keys) {
        std::string s;
        if (!cfg.contains(key) || !token_string(cfg[key], &s)) continue;
        *slot = s.empty() ? -1 : tok->token_to_id(s);
    }
    if (cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean()) sp.add_bos = cfg["add_bos_token"].get<bool>();
    if (cfg.contains("add_eos_token") && cfg["add_eos_token"].is_boolean()) sp.add_eos = cfg["add_eos_token"].get<bool>();
    tok->chat_template_ = chat_template_of(cfg, dir);
    return tok;
}

} // namespace vkc
