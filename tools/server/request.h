// Request parsing and validation for vkconvgpt-server, as a pure function of the body text (no model,
// no I/O) so that fuzz targets can call it: JSON text -> ParsedRequest, or an HttpError in the OpenAI
// error format ({"error": {"message", "type", "param", "code"}}) with its HTTP status.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vkc::server {

struct HttpError {
    int status = 400;
    std::string message;
    std::string type = "invalid_request_error";
    std::string param; // "" -> null
    std::string code;  // "" -> null
};
// {"error": {...}} (also "object": "error" like vLLM does not need; OpenAI clients read error.message).
std::string error_json(const HttpError& e);

enum class Endpoint { completions, chat };

struct ChatTurn {
    std::string role, content;
};

struct ParsedRequest {
    Endpoint endpoint = Endpoint::completions;
    std::string model;               // as given ("" when absent)
    std::string prompt;              // completions with a text prompt
    std::vector<int32_t> prompt_ids; // completions with a token-id prompt (prompt_is_ids)
    bool prompt_is_ids = false;
    std::vector<ChatTurn> messages;  // chat
    int32_t max_tokens = -1;         // -1: not given (until the context is full)
    float temperature = 1.0f, top_p = 1.0f, min_p = 0.0f;
    int32_t top_k = 0;               // 0: off
    float presence_penalty = 0.0f, frequency_penalty = 0.0f, repetition_penalty = 1.0f;
    std::vector<std::string> stop;
    bool has_seed = false;
    uint64_t seed = 0;
    bool stream = false, include_usage = false;
    int32_t logprobs = -1;           // -1: none; else top alternatives per token (0..5)
    bool ignore_eos = false;         // vLLM extension: generate exactly max_tokens
};

struct ParseOptions {
    std::string served_model_name; // a different "model" -> 404 model_not_found
    int32_t n_ctx = 0;              // max_tokens above it -> 400
};

struct ParseResult {
    bool ok = false;
    ParsedRequest req;
    HttpError error;
};

// Never throws; every bad input becomes an HttpError naming the parameter.
ParseResult parse_request(const std::string& body, Endpoint endpoint, const ParseOptions& opts) noexcept;

} // namespace vkc::server
