#include "tools/server/http.h"

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>

#include "tools/server/request.h"

namespace vkc::server {

using nlohmann::json;

namespace {

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void send_error(httplib::Response& res, const HttpError& e) {
    res.status = e.status;
    res.set_content(error_json(e), "application/json");
}

HttpError make_error(int status, const std::string& msg, const std::string& type, const std::string& code = "",
                     const std::string& param = "") {
    HttpError e;
    e.status = status;
    e.message = msg;
    e.type = type;
    e.code = code;
    e.param = param;
    return e;
}

std::string new_id(const char* prefix) {
    static std::atomic<uint64_t> counter{0};
    const auto t = std::chrono::system_clock::now().time_since_epoch().count();
    char b[64];
    std::snprintf(b, sizeof b, "%s-%llx%llx", prefix, (unsigned long long)t, (unsigned long long)++counter);
    return b;
}

int64_t now_s() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool authorized(const ServerState& st, const httplib::Request& req, httplib::Response& res) {
    if (st.api_key.empty()) return true;
    const std::string h = req.get_header_value("Authorization");
    if (h == "Bearer " + st.api_key) return true;
    send_error(res, make_error(401, h.empty() ? "missing API key: send 'Authorization: Bearer <key>'" : "invalid API key",
                               "invalid_request_error", "invalid_api_key"));
    return false;
}

std::string piece_of(vkc_model* m, int32_t id) {
    char b[256];
    int32_t n = 0;
    if (vkc_token_to_piece(m, id, b, sizeof b, &n) != VKC_OK) return "";
    return std::string(b, n);
}

std::vector<int32_t> tokenize(vkc_model* m, const std::string& text, bool add_special, std::string* err) {
    int32_t n = 0;
    vkc_status s = vkc_tokenize(m, text.data(), (int32_t)text.size(), add_special, nullptr, 0, &n);
    if (s != VKC_OK && s != VKC_BUFFER_TOO_SMALL) {
        *err = vkc_last_error();
        return {};
    }
    std::vector<int32_t> ids(n);
    if (vkc_tokenize(m, text.data(), (int32_t)text.size(), add_special, ids.data(), n, &n) != VKC_OK) {
        *err = vkc_last_error();
        return {};
    }
    return ids;
}

// Streams one request's tokens as the per-endpoint JSON; shared by the streaming and blocking paths.
struct Responder {
    ServerState& st;
    ParsedRequest req;
    std::shared_ptr<Job> job;
    std::string id;
    int64_t created = 0;
    bool chat() const { return req.endpoint == Endpoint::chat; }

    json logprob_entry_chat(const TokenOut& t) {
        const std::string tok = piece_of(st.model, t.id);
        json top = json::array();
        for (auto& [i, lp] : t.top) top.push_back({{"token", piece_of(st.model, i)}, {"logprob", lp}});
        return {{"token", tok}, {"logprob", t.logprob}, {"bytes", std::vector<uint8_t>(tok.begin(), tok.end())},
                {"top_logprobs", top}};
    }
    // Completions logprobs for tokens (legacy format); offset: text offset of the first token.
    // chat: {"content": [one entry per sampled token]} (text-only pieces, id < 0, have none)
    json logprobs_chat(const std::vector<TokenOut>& ts) {
        json lp = {{"content", json::array()}};
        for (auto& t : ts)
            if (t.id >= 0) lp["content"].push_back(logprob_entry_chat(t));
        return lp;
    }

    json logprobs_completion(const std::vector<TokenOut>& ts, size_t offset) {
        json tokens = json::array(), lps = json::array(), tops = json::array(), offs = json::array();
        for (const TokenOut& t : ts) {
            if (t.id < 0) continue;
            tokens.push_back(piece_of(st.model, t.id));
            lps.push_back(t.logprob);
            json top = json::object();
            for (auto& [i, lp] : t.top) top[piece_of(st.model, i)] = lp;
            tops.push_back(req.logprobs > 0 ? top : json(nullptr));
            offs.push_back(offset);
            offset += t.text.size();
        }
        return {{"tokens", tokens}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offs}};
    }
    json usage() const {
        return {{"prompt_tokens", job->n_prompt},
                {"completion_tokens", job->n_generated},
                {"total_tokens", job->n_prompt + job->n_generated}};
    }
    json finish() const { return job->finish_reason.empty() ? json(nullptr) : json(job->finish_reason); }

    // One SSE chunk of delta text (chat: delta.content) with optional finish reason.
    std::string chunk(const std::string& text, const std::vector<TokenOut>& ts, const json& finish_reason,
                      bool role, size_t* offset) {
        json choice = {{"index", 0}, {"finish_reason", finish_reason}};
        if (chat()) {
            json delta = json::object();
            if (role) delta["role"] = "assistant";
            if (!text.empty() || role) delta["content"] = text;
            choice["delta"] = delta;
            choice["logprobs"] = req.logprobs >= 0 && !ts.empty() ? logprobs_chat(ts) : json(nullptr);
        } else {
            choice["text"] = text;
            choice["logprobs"] = req.logprobs >= 0 && !ts.empty() ? logprobs_completion(ts, *offset) : json(nullptr);
            *offset += text.size();
        }
        json j = {{"id", id},
                  {"object", chat() ? "chat.completion.chunk" : "text_completion"},
                  {"created", created},
                  {"model", st.model_name},
                  {"choices", json::array({choice})}};
        return "data: " + dump(j) + "\n\n";
    }

    json full_response(const std::string& text, const std::vector<TokenOut>& ts) {
        json choice = {{"index", 0}, {"finish_reason", finish()}};
        if (chat()) {
            choice["message"] = {{"role", "assistant"}, {"content", text}};
            choice["logprobs"] = req.logprobs >= 0 ? logprobs_chat(ts) : json(nullptr);
        } else {
            choice["text"] = text;
            choice["logprobs"] = req.logprobs >= 0 ? logprobs_completion(ts, 0) : json(nullptr);
        }
        return {{"id", id},
                {"object", chat() ? "chat.completion" : "text_completion"},
                {"created", created},
                {"model", st.model_name},
                {"choices", json::array({choice})},
                {"usage", usage()}};
    }
};

void handle_generate(ServerState& st, Endpoint ep, const httplib::Request& http_req, httplib::Response& res) {
    if (!authorized(st, http_req, res)) return;
    ParseOptions po;
    po.served_model_name = st.model_name;
    po.n_ctx = st.sched->n_ctx();
    ParseResult pr = parse_request(http_req.body, ep, po);
    if (!pr.ok) return send_error(res, pr.error);
    ParsedRequest& r = pr.req;

    // Prompt ids: the chat template's rendering, or the completion prompt (text with bos as configured).
    std::vector<int32_t> ids;
    std::string err;
    if (ep == Endpoint::chat) {
        std::vector<ChatMessage> msgs;
        for (auto& m : r.messages) msgs.push_back({m.role, m.content});
        std::string text;
        try {
            text = st.tmpl ? st.tmpl->render(msgs, true, st.bos, st.eos) : render_chatml(msgs, true);
        } catch (const std::exception& e) {
            return send_error(res, make_error(400, e.what(), "invalid_request_error", "", "messages"));
        }
        ids = tokenize(st.model, text, false, &err);
    } else if (r.prompt_is_ids) {
        const int32_t V = vkc_model_vocab_size(st.model);
        for (int32_t id : r.prompt_ids)
            if (id >= V)
                return send_error(res, make_error(400, "prompt token id " + std::to_string(id) + " is out of range [0, " +
                                                           std::to_string(V) + ")",
                                                  "invalid_request_error", "", "prompt"));
        ids = r.prompt_ids;
    } else {
        ids = tokenize(st.model, r.prompt, true, &err);
    }
    if (!err.empty()) return send_error(res, make_error(400, err, "invalid_request_error", "", "prompt"));
    if (ids.empty()) return send_error(res, make_error(400, "the prompt has no tokens", "invalid_request_error", "", "prompt"));
    const int32_t n_ctx = st.sched->n_ctx(), n_prompt = (int32_t)ids.size();
    if (n_prompt >= n_ctx)
        return send_error(res, make_error(400, "This model's maximum context length is " + std::to_string(n_ctx) +
                                                   " tokens. However, your prompt has " + std::to_string(n_prompt) +
                                                   " tokens (at least one must be left for the completion).",
                                          "invalid_request_error", "context_length_exceeded", ep == Endpoint::chat ? "messages" : "prompt"));
    if (r.max_tokens > 0 && (int64_t)n_prompt + r.max_tokens > n_ctx)
        return send_error(res, make_error(400, "This model's maximum context length is " + std::to_string(n_ctx) +
                                                   " tokens. However, you requested " +
                                                   std::to_string((int64_t)n_prompt + r.max_tokens) + " tokens (" +
                                                   std::to_string(n_prompt) + " in the prompt, " +
                                                   std::to_string(r.max_tokens) + " for the completion).",
                                          "invalid_request_error", "context_length_exceeded", "max_tokens"));

    JobConfig jc;
    jc.prompt = std::move(ids);
    jc.max_tokens = r.max_tokens > 0 ? r.max_tokens : n_ctx - n_prompt;
    jc.stop = r.stop;
    jc.ignore_eos = r.ignore_eos;
    jc.logprobs = r.logprobs;
    vkc_sampler_params& sp = jc.sampling;
    sp = vkc_sampler_default_params();
    sp.temperature = r.temperature;
    sp.top_k = r.top_k;
    sp.top_p = r.top_p;
    sp.min_p = r.min_p;
    sp.presence_penalty = r.presence_penalty;
    sp.frequency_penalty = r.frequency_penalty;
    sp.repetition_penalty = r.repetition_penalty;
    sp.seed = r.has_seed ? r.seed : VKC_SEED_RANDOM;
    auto job = std::make_shared<Job>(std::move(jc));
    if (!st.sched->submit(job))
        return send_error(res, make_error(429, "all " + std::to_string(st.sched->slots_total()) +
                                                   " slots are busy and the wait queue is full; retry later",
                                          "rate_limit_exceeded", "rate_limit_exceeded"));

    auto rs = std::make_shared<Responder>(Responder{st, std::move(r), job, new_id(ep == Endpoint::chat ? "chatcmpl" : "cmpl"), now_s()});
    if (!rs->req.stream) {
        std::vector<TokenOut> toks;
        while (!job->take(toks, std::chrono::milliseconds(1000))) {
        }
        if (!job->error.empty()) return send_error(res, make_error(500, job->error, "server_error"));
        std::string text;
        for (auto& t : toks) text += t.text;
        res.set_content(dump(rs->full_response(text, toks)), "application/json");
        return;
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    struct StreamState {
        bool started = false, finished = false;
        size_t offset = 0;
        Clock::time_point last_write = Clock::now();
    };
    auto ss = std::make_shared<StreamState>();
    Scheduler* sched = st.sched;
    res.set_chunked_content_provider(
        "text/event-stream",
        [rs, ss, job, sched](size_t, httplib::DataSink& sink) {
            if (ss->finished) return false;
            std::vector<TokenOut> toks;
            const bool done = job->take(toks, std::chrono::milliseconds(100));
            std::string out;
            if (!ss->started && rs->chat()) out += rs->chunk("", {}, nullptr, true, &ss->offset);
            ss->started = true;
            // One SSE event per token that released text (or carries logprobs).
            for (auto& t : toks)
                if (!t.text.empty() || (rs->req.logprobs >= 0 && t.id >= 0))
                    out += rs->chunk(t.text, {t}, nullptr, false, &ss->offset);
            if (done) {
                if (!job->error.empty()) {
                    out += "data: " + error_json(make_error(500, job->error, "server_error")) + "\n\n";
                } else {
                    out += rs->chunk("", {}, rs->finish(), false, &ss->offset);
                    if (rs->req.include_usage) {
                        json u = {{"id", rs->id},
                                  {"object", rs->chat() ? "chat.completion.chunk" : "text_completion"},
                                  {"created", rs->created},
                                  {"model", rs->st.model_name},
                                  {"choices", json::array()},
                                  {"usage", rs->usage()}};
                        out += "data: " + dump(u) + "\n\n";
                    }
                }
                out += "data: [DONE]\n\n";
            } else if (out.empty() && Clock::now() - ss->last_write > std::chrono::seconds(1)) {
                out = ": keep-alive\n\n"; // SSE comment: finds clients that left while queued
            }
            if (!out.empty()) {
                ss->last_write = Clock::now();
                if (!sink.write(out.data(), out.size())) {
                    job->cancel();
                    sched->wake();
                    return false;
                }
            }
            if (done) {
                ss->finished = true;
                sink.done();
            }
            return true;
        },
        [job, sched](bool success) {
            if (!success) { // the connection dropped (a job already done ignores this)
                job->cancel();
                sched->wake();
            }
        });
}

} // namespace

void install_routes(httplib::Server& svr, ServerState& st) {
    svr.Get("/health", [](const httplib::Request&, httplib::Response& res) {
        res.set_content("{\"status\":\"ok\"}", "application/json");
    });
    svr.Get("/metrics", [&st](const httplib::Request&, httplib::Response& res) {
        res.set_content(st.metrics->render(st.sched->queue_length(), st.sched->slots_busy(), st.sched->slots_total(),
                                           st.sched->gpu_bytes()),
                        "text/plain; version=0.0.4; charset=utf-8");
    });
    svr.Get("/v1/models", [&st](const httplib::Request& req, httplib::Response& res) {
        if (!authorized(st, req, res)) return;
        json m = {{"id", st.model_name},
                  {"object", "model"},
                  {"created", st.created},
                  {"owned_by", "vkconvgpt"},
                  {"max_model_len", st.sched->n_ctx()}};
        res.set_content(dump(json{{"object", "list"}, {"data", json::array({m})}}), "application/json");
    });
    svr.Post("/v1/completions", [&st](const httplib::Request& req, httplib::Response& res) {
        handle_generate(st, Endpoint::completions, req, res);
    });
    svr.Post("/v1/chat/completions", [&st](const httplib::Request& req, httplib::Response& res) {
        handle_generate(st, Endpoint::chat, req, res);
    });
    // Every other error (404, 405, 413 body too large, 400 from the HTTP parser) in the OpenAI format.
    svr.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;
        std::string msg = res.status == 404   ? "no route " + req.method + " " + req.path
                          : res.status == 413 ? "request body too large"
                                              : std::string("HTTP error ") + std::to_string(res.status);
        res.set_content(error_json(make_error(res.status, msg, "invalid_request_error")), "application/json");
    });
    svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string msg = "internal error";
        try {
            if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            msg += std::string(": ") + e.what();
        } catch (...) {
        }
        res.status = 500;
        res.set_content(error_json(make_error(500, msg, "server_error")), "application/json");
    });
}

} // namespace vkc::server
