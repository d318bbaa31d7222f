// vkconvgpt-loadgen: N concurrent greedy streaming completions against a vkconvgpt-server (or any
// OpenAI-compatible server), for machines without node or python. Runs one stream alone first (the
// single-stream baseline), then N at once, and prints one line of JSON: per-stream and aggregate decode
// tokens/s (tokens after the first, over the time from the first to the last token), the speed-up over
// the baseline, and whether every stream completed with max_tokens tokens and matched its text when
// run alone ("outputs_match": greedy outputs under concurrency equal to those run one at a time).
//   vkconvgpt-loadgen [--host 127.0.0.1] [--port 8080] [-c 8] [-n 128] [--prompt TEXT] [--api-key K]
#include <httplib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct StreamResult {
    bool ok = false;
    std::string error, text, finish;
    int64_t completion_tokens = -1;
    double t_start = 0, t_first = 0, t_last = 0, t_end = 0; // seconds since the run's start
};

struct Opts {
    std::string host = "127.0.0.1", prompt = "In the beginning", api_key, model;
    int port = 8080, concurrency = 8, max_tokens = 128;
};

StreamResult run_stream(const Opts& o, const std::string& prompt, Clock::time_point t0) {
    StreamResult r;
    httplib::Client cli(o.host, o.port);
    cli.set_read_timeout(600, 0);
    json body = {{"prompt", prompt}, {"max_tokens", o.max_tokens}, {"temperature", 0}, {"stream", true},
                 {"ignore_eos", true}, {"stream_options", {{"include_usage", true}}}};
    if (!o.model.empty()) body["model"] = o.model;
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = body.dump();
    req.headers.emplace("Content-Type", "application/json");
    if (!o.api_key.empty()) req.headers.emplace("Authorization", "Bearer " + o.api_key);
    std::string buf;
    bool done = false;
    auto secs = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
    r.t_start = secs();
    req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
        buf.append(d, n);
        size_t e;
        while ((e = buf.find("\n\n")) != std::string::npos) {
            std::string ev = buf.substr(0, e);
            buf.erase(0, e + 2);
            if (ev.rfind("data: ", 0) != 0) continue;
            std::string data = ev.substr(6);
            if (data == "[DONE]") {
                done = true;
                continue;
            }
            json j = json::parse(data, nullptr, false);
            if (j.is_discarded()) continue;
            if (j.contains("error")) r.error = j["error"].value("message", "error");
            if (j.contains("usage") && j["usage"].is_object()) r.completion_tokens = j["usage"].value("completion_tokens", -1);
            if (j.contains("choices") && !j["choices"].empty()) {
                const json& c = j["choices"][0];
                const std::string t = c.value("text", "");
                if (!t.empty() || r.t_first == 0) {
                    double now = secs();
                    if (r.t_first == 0) r.t_first = now;
                    r.t_last = now;
                }
                r.text += t;
                if (c.contains("finish_reason") && c["finish_reason"].is_string()) r.finish = c["finish_reason"];
            }
        }
        return true;
    };
    auto res = cli.send(req);
    r.t_end = secs();
    if (!res) r.error = "connection failed: " + httplib::to_string(res.error());
    else if (res->status != 200) r.error = "HTTP " + std::to_string(res->status);
    r.ok = r.error.empty() && done && r.completion_tokens == o.max_tokens;
    if (r.error.empty() && !r.ok)
        r.error = "incomplete stream: " + std::to_string(r.completion_tokens) + " tokens, [DONE] " + (done ? "seen" : "missing");
    return r;
}

// Tokens per second of a whole request (send to end of stream): text chunks may be held back (UTF-8,
// stop strings) or empty, so their arrival times do not time the decode steps. Short prompts keep the
// prefill's share small.
double decode_rate(const StreamResult& r) {
    return r.t_end > r.t_start && r.completion_tokens > 0 ? double(r.completion_tokens) / (r.t_end - r.t_start) : 0;
}

int main(int argc, char** argv) {
    Opts o;
    CLI::App app("vkconvgpt-loadgen: concurrent greedy streaming completions; prints one line of JSON");
    app.add_option("--host", o.host)->capture_default_str();
    app.add_option("--port", o.port)->capture_default_str();
    app.add_option("-c,--concurrency", o.concurrency, "concurrent streams")->capture_default_str()->check(CLI::Range(1, 1024));
    app.add_option("-n,--max-tokens", o.max_tokens, "tokens per stream")->capture_default_str()->check(CLI::Range(2, 1 << 20));
    app.add_option("--prompt", o.prompt, "prompt; stream i gets \" (i)\" appended")->capture_default_str();
    app.add_option("--model", o.model, "model name to send");
    app.add_option("--api-key", o.api_key);
    CLI11_PARSE(app, argc, argv);

    auto prompt_of = [&](int i) { return o.prompt + " (" + std::to_string(i) + ")"; };
    const auto t0 = Clock::now();
    // Baseline: each prompt alone would take c runs; stream 0 alone gives the single-stream rate, and the
    // texts of all prompts alone are collected afterwards for the equality check (one at a time).
    run_stream(o, prompt_of(0), t0); // warm-up (first-request costs are not decode speed)
    StreamResult base = run_stream(o, prompt_of(0), t0);
    std::vector<StreamResult> rs(o.concurrency);
    std::vector<std::thread> th;
    const double t_conc = std::chrono::duration<double>(Clock::now() - t0).count();
    for (int i = 0; i < o.concurrency; ++i)
        th.emplace_back([&, i] { rs[i] = run_stream(o, prompt_of(i), t0); });
    for (auto& t : th) t.join();
    bool all_ok = base.ok, match = true;
    double first = 1e30, last = 0;
    int64_t tokens = 0;
    json per = json::array(), errors = json::array();
    for (auto& r : rs) {
        all_ok = all_ok && r.ok;
        if (!r.error.empty()) errors.push_back(r.error);
        per.push_back(std::round(decode_rate(r) * 100) / 100);
        first = std::min(first, r.t_start);
        last = std::max(last, r.t_end);
        tokens += std::max<int64_t>(0, r.completion_tokens);
    }
    for (int i = 0; i < o.concurrency && all_ok; ++i) {
        StreamResult alone = i == 0 ? base : run_stream(o, prompt_of(i), t0);
        match = match && alone.ok && alone.text == rs[i].text;
    }
    const double single = decode_rate(base);
    const double aggregate = last > first ? double(tokens) / (last - first) : 0;
    json out = {{"concurrency", o.concurrency},
                {"max_tokens", o.max_tokens},
                {"single_stream_tok_s", std::round(single * 100) / 100},
                {"aggregate_tok_s", std::round(aggregate * 100) / 100},
                {"speedup", single > 0 ? std::round(aggregate / single * 100) / 100 : 0},
                {"per_stream_tok_s", per},
                {"concurrent_wall_s", std::round((last - t_conc) * 1000) / 1000},
                {"all_complete", all_ok},
                {"outputs_match", all_ok && match},
                {"errors", errors}};
    std::printf("%s\n", out.dump().c_str());
    return all_ok && match ? 0 : 1;
}
