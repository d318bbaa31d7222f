#include "tools/server/request.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace vkc::server {

using nlohmann::json;

std::string error_json(const HttpError& e) {
    json err = {{"message", e.message}, {"type", e.type}, {"param", nullptr}, {"code", nullptr}};
    if (!e.param.empty()) err["param"] = e.param;
    if (!e.code.empty()) err["code"] = e.code;
    return json{{"error", err}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

struct Bad {
    HttpError e;
};
[[noreturn]] void bad(const std::string& param, const std::string& msg, int status = 400, const std::string& code = "") {
    HttpError e;
    e.status = status;
    e.message = msg;
    e.param = param;
    e.code = code;
    throw Bad{e};
}

double number(const json& j, const char* k, double lo, double hi) {
    if (!j.is_number()) bad(k, std::string("'") + k + "' must be a number");
    double v = j.get<double>();
    if (!std::isfinite(v) || v < lo || v > hi)
        bad(k, std::string("'") + k + "' must be in [" + json(lo).dump() + ", " + json(hi).dump() + "], got " + j.dump());
    return v;
}

int64_t integer(const json& j, const char* k, int64_t lo, int64_t hi) {
    if (!j.is_number_integer()) bad(k, std::string("'") + k + "' must be an integer");
    if (j.is_number_unsigned() && j.get<uint64_t>() > (uint64_t)INT64_MAX)
        bad(k, std::string("'") + k + "' is out of range");
    int64_t v = j.get<int64_t>();
    if (v < lo || v > hi)
        bad(k, std::string("'") + k + "' must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " +
                   std::to_string(v));
    return v;
}

bool boolean(const json& j, const char* k) {
    if (!j.is_boolean()) bad(k, std::string("'") + k + "' must be a boolean");
    return j.get<bool>();
}

// Chat content: a string, or an array of {"type": "text", "text": ...} parts (joined).
std::string content_text(const json& c, size_t i) {
    const std::string p = "messages[" + std::to_string(i) + "].content";
    if (c.is_null()) return "";
    if (c.is_string()) return c.get<std::string>();
    if (!c.is_array()) bad(p, "'" + p + "' must be a string or an array of text parts");
    std::string out;
    for (const json& part : c) {
        if (!part.is_object() || part.value("type", json()) != "text" || !part.contains("text") || !part["text"].is_string())
            bad(p, "'" + p + "' supports only parts of type \"text\"");
        out += part["text"].get<std::string>();
    }
    return out;
}

void parse_into(const json& j, ParsedRequest& r, const ParseOptions& o) {
    if (!j.is_object()) bad("", "the request body must be a JSON object");
    if (j.contains("model") && !j["model"].is_null()) {
        if (!j["model"].is_string()) bad("model", "'model' must be a string");
        r.model = j["model"].get<std::string>();
        if (!r.model.empty() && r.model != o.served_model_name)
            bad("model", "The model '" + r.model + "' does not exist (this server serves '" + o.served_model_name + "')",
                404, "model_not_found");
    }
    if (r.endpoint == Endpoint::completions) {
        if (!j.contains("prompt")) bad("prompt", "'prompt' is required");
        const json& p = j["prompt"];
        if (p.is_string()) {
            r.prompt = p.get<std::string>();
        } else if (p.is_array() && p.size() == 1 && p[0].is_string()) {
            r.prompt = p[0].get<std::string>();
        } else if (p.is_array() && !p.empty() && p[0].is_number_integer()) {
            r.prompt_is_ids = true;
            for (const json& id : p) r.prompt_ids.push_back((int32_t)integer(id, "prompt", 0, INT32_MAX));
        } else {
            bad("prompt", "'prompt' must be a string, a one-string array or a non-empty array of token ids "
                          "(batched prompts are not supported)");
        }
        if (!r.prompt_is_ids && r.prompt.empty()) bad("prompt", "'prompt' is empty");
    } else {
        if (!j.contains("messages") || !j["messages"].is_array() || j["messages"].empty())
            bad("messages", "'messages' must be a non-empty array");
        const json& ms = j["messages"];
        for (size_t i = 0; i < ms.size(); ++i) {
            const json& m = ms[i];
            if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
                bad("messages", "messages[" + std::to_string(i) + "] must be an object with a string 'role'");
            ChatTurn t;
            t.role = m["role"].get<std::string>();
            if (t.role != "system" && t.role != "user" && t.role != "assistant" && t.role != "developer")
                bad("messages", "messages[" + std::to_string(i) + "].role '" + t.role + "' is not supported");
            if (t.role == "developer") t.role = "system";
            t.content = content_text(m.contains("content") ? m["content"] : json(), i);
            r.messages.push_back(std::move(t));
        }
    }
    const int64_t cap = o.n_ctx > 0 ? o.n_ctx : INT32_MAX;
    for (const char* k : {"max_tokens", "max_completion_tokens"}) {
        if (!j.contains(k) || j[k].is_null()) continue;
        const json& v = j[k];
        if (!v.is_number_integer()) bad(k, std::string("'") + k + "' must be an integer");
        const int64_t n = v.is_number_unsigned() && v.get<uint64_t>() > (uint64_t)INT64_MAX ? INT64_MAX : v.get<int64_t>();
        if (n < 1) bad(k, std::string("'") + k + "' must be at least 1, got " + std::to_string(n));
        if (n > cap)
            bad(k, std::string("'") + k + "' is " + std::to_string(n) + ", above the context of " + std::to_string(cap) +
                       " tokens", 400, "context_length_exceeded");
        r.max_tokens = (int32_t)n;
    }
    auto has = [&](const char* k) { return j.contains(k) && !j[k].is_null(); };
    if (has("temperature")) r.temperature = (float)number(j["temperature"], "temperature", 0, 100);
    if (has("top_p")) r.top_p = (float)number(j["top_p"], "top_p", 0, 1);
    if (r.top_p <= 0) bad("top_p", "'top_p' must be in (0, 1]");
    if (has("min_p")) r.min_p = (float)number(j["min_p"], "min_p", 0, 1);
    if (has("top_k")) {
        int64_t k = integer(j["top_k"], "top_k", -1, INT32_MAX);
        r.top_k = k < 0 ? 0 : (int32_t)k; // -1 (vLLM) and 0 (llama-server): off
    }
    if (has("presence_penalty")) r.presence_penalty = (float)number(j["presence_penalty"], "presence_penalty", -2, 2);
    if (has("frequency_penalty")) r.frequency_penalty = (float)number(j["frequency_penalty"], "frequency_penalty", -2, 2);
    if (has("repetition_penalty")) {
        r.repetition_penalty = (float)number(j["repetition_penalty"], "repetition_penalty", 0, 100);
        if (r.repetition_penalty <= 0) bad("repetition_penalty", "'repetition_penalty' must be > 0");
    }
    if (has("seed")) {
        const json& s = j["seed"];
        if (!s.is_number_integer()) bad("seed", "'seed' must be an integer");
        r.has_seed = true;
        r.seed = s.is_number_unsigned() ? s.get<uint64_t>() : (uint64_t)s.get<int64_t>();
        if (r.seed == UINT64_MAX) r.seed = UINT64_MAX - 1; // UINT64_MAX means "random" to the sampler
    }
    if (has("n") && integer(j["n"], "n", 1, INT32_MAX) != 1) bad("n", "only 'n' = 1 is supported");
    if (has("best_of") && integer(j["best_of"], "best_of", 1, INT32_MAX) != 1) bad("best_of", "only 'best_of' = 1 is supported");
    if (has("stop")) {
        const json& s = j["stop"];
        std::vector<json> items;
        if (s.is_string()) items.push_back(s);
        else if (s.is_array()) items.assign(s.begin(), s.end());
        else bad("stop", "'stop' must be a string or an array of strings");
        if (items.size() > 16) bad("stop", "'stop' has more than 16 strings");
        for (const json& x : items) {
            if (!x.is_string()) bad("stop", "'stop' must be a string or an array of strings");
            std::string v = x.get<std::string>();
            if (v.empty()) continue;
            if (v.size() > 1024) bad("stop", "a stop string is longer than 1024 bytes");
            r.stop.push_back(std::move(v));
        }
    }
    if (has("stream")) r.stream = boolean(j["stream"], "stream");
    if (has("stream_options")) {
        const json& so = j["stream_options"];
        if (!so.is_object()) bad("stream_options", "'stream_options' must be an object");
        if (so.contains("include_usage") && !so["include_usage"].is_null())
            r.include_usage = boolean(so["include_usage"], "stream_options.include_usage");
    }
    if (has("ignore_eos")) r.ignore_eos = boolean(j["ignore_eos"], "ignore_eos");
    if (r.endpoint == Endpoint::completions) {
        if (has("logprobs")) r.logprobs = (int32_t)integer(j["logprobs"], "logprobs", 0, 5);
        if (has("echo") && boolean(j["echo"], "echo")) bad("echo", "'echo' is not supported");
        if (has("suffix")) bad("suffix", "'suffix' is not supported");
    } else {
        if (has("logprobs") && boolean(j["logprobs"], "logprobs")) r.logprobs = 0;
        if (has("top_logprobs")) {
            int32_t k = (int32_t)integer(j["top_logprobs"], "top_logprobs", 0, 5);
            if (r.logprobs < 0 && k > 0) bad("top_logprobs", "'top_logprobs' needs 'logprobs': true");
            if (r.logprobs >= 0) r.logprobs = k;
        }
        if (has("tools") && !(j["tools"].is_array() && j["tools"].empty())) bad("tools", "'tools' is not supported");
    }
}

} // namespace

ParseResult parse_request(const std::string& body, Endpoint endpoint, const ParseOptions& opts) noexcept {
    ParseResult out;
    try {
        json j = json::parse(body, nullptr, true, false);
        out.req.endpoint = endpoint;
        parse_into(j, out.req, opts);
        out.ok = true;
    } catch (const Bad& b) {
        out.error = b.e;
    } catch (const json::parse_error& e) {
        out.error.message = std::string("invalid JSON in the request body: ") + e.what();
    } catch (const std::exception& e) {
        out.error.message = std::string("invalid request: ") + e.what();
    } catch (...) {
        out.error.message = "invalid request";
    }
    if (!out.ok) out.req = ParsedRequest{};
    return out;
}

} // namespace vkc::server
