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

json parse_json_text(const std::string& text, const std::string& where) {
    try {
        return json::parse(text);
    } catch (const json::exception& e) {
        fail(Status::invalid_model, where + ": not valid JSON: " + e.what());
    }
}

// added_tokens_decoder keys: decimal token ids ("32000").
int32_t token_id_key(const std::string& k) {
    int64_t v = 0;
    for (char c : k) {
        if (c < '0' || c > '9' || v > INT32_MAX / 10) { v = -1; break; }
        v = v * 10 + (c - '0');
    }
    if (k.empty() || v < 0 || v > INT32_MAX)
        fail(Status::invalid_model, "tokenizer_config.json: added_tokens_decoder key '" + k + "' is not a token id");
    return static_cast<int32_t>(v);
}

// dir: where chat_template.jinja / .json may lie; empty: look for no file.
std::string chat_template_of(const json& cfg, const fs::path& dir) {
    if (cfg.contains("chat_template")) {
        const json& t = cfg["chat_template"];
        if (t.is_string()) return t.get<std::string>();
        if (t.is_array()) { // [{"name": "default", "template": "..."}, {"name": "tool_use", ...}]
            for (const auto& e : t) {
                if (!e.is_object() || !e.contains("name") || e["name"] != "default" || !e.contains("template")) continue;
                if (!e["template"].is_string())
                    fail(Status::invalid_model, "tokenizer_config.json: chat_template 'default' is not a string");
                return e["template"].get<std::string>();
            }
            return "";
        }
    }
    if (dir.empty()) return "";
    if (fs::exists(dir / "chat_template.jinja")) return read_text(dir / "chat_template.jinja");
    if (fs::exists(dir / "chat_template.json")) {
        json j = read_json(dir / "chat_template.json");
        if (j.contains("chat_template") && j["chat_template"].is_string()) return j["chat_template"].get<std::string>();
    }
    return "";
}
} // namespace

struct TokenizerConfigAccess {
    static void apply(Tokenizer& t, const nlohmann::json& cfg, const std::filesystem::path& dir);
};

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
                t.id = token_id_key(it.key());
                const json& v = it.value();
                if (!v.is_object())
                    fail(Status::invalid_model, "tokenizer_config.json: added_tokens_decoder['" + it.key() + "'] is not an object");
                try {
                    t.content = v.value("content", "");
                    t.single_word = v.value("single_word", false);
                    t.lstrip = v.value("lstrip", false);
                    t.rstrip = v.value("rstrip", false);
                    t.special = v.value("special", false);
                } catch (const json::exception& e) {
                    fail(Status::invalid_model, "tokenizer_config.json: added_tokens_decoder['" + it.key() + "']: " + e.what());
                }
                if (!t.content.empty()) extra.push_back(t);
            }
        tok = load_sp_tokenizer(file.string(), extra);
    }

    TokenizerConfigAccess::apply(*tok, cfg, dir);
    return tok;
}

std::unique_ptr<Tokenizer> Tokenizer::load_json(const std::string& tokenizer_json, const std::string& tokenizer_config_json) {
    json cfg = json::object();
    if (!tokenizer_config_json.empty()) cfg = parse_json_text(tokenizer_config_json, "tokenizer_config.json");
    if (!cfg.is_object()) fail(Status::invalid_model, "tokenizer_config.json: not an object");
    std::unique_ptr<Tokenizer> tok = load_hf_tokenizer_json(tokenizer_json, "tokenizer.json");
    TokenizerConfigAccess::apply(*tok, cfg, fs::path());
    return tok;
}

// tokenizer_config.json: special tokens, add_bos/add_eos, the chat template.
void TokenizerConfigAccess::apply(Tokenizer& t, const nlohmann::json& cfg, const std::filesystem::path& dir) {
    Tokenizer* tok = &t;
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
}

} // namespace vkc
