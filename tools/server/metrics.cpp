#include "tools/server/metrics.h"

#include <cstdio>

namespace vkc::server {

namespace {
std::string num(double v) {
    char b[64];
    std::snprintf(b, sizeof b, "%.9g", v);
    return b;
}
} // namespace

void Histogram::observe(double v) {
    size_t i = 0;
    while (i < bounds_.size() && v > bounds_[i]) ++i;
    ++counts_[i];
    sum_ += v;
    ++count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& help) const {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
    uint64_t cum = 0;
    for (size_t i = 0; i < bounds_.size(); ++i) {
        cum += counts_[i];
        out += name + "_bucket{le=\"" + num(bounds_[i]) + "\"} " + std::to_string(cum) + "\n";
    }
    out += name + "_bucket{le=\"+Inf\"} " + std::to_string(count_) + "\n";
    out += name + "_sum " + num(sum_) + "\n" + name + "_count " + std::to_string(count_) + "\n";
}

Metrics::Metrics()
    : ttft_({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}),
      itl_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}) {}

void Metrics::request(const std::string& endpoint, int status) {
    std::lock_guard<std::mutex> l(mu_);
    ++requests_[{endpoint, status}];
}
void Metrics::tokens(int64_t prompt, int64_t generated) {
    std::lock_guard<std::mutex> l(mu_);
    prompt_tokens_ += prompt;
    generated_tokens_ += generated;
}
void Metrics::prompt_reused(int64_t n) {
    std::lock_guard<std::mutex> l(mu_);
    reused_tokens_ += n;
}
void Metrics::ttft(double s) {
    std::lock_guard<std::mutex> l(mu_);
    ttft_.observe(s);
}
void Metrics::inter_token(double s) {
    std::lock_guard<std::mutex> l(mu_);
    itl_.observe(s);
}
void Metrics::disconnect() {
    std::lock_guard<std::mutex> l(mu_);
    ++disconnects_;
}

std::string Metrics::render(int queue_len, int slots_busy, int slots_total, int64_t gpu_bytes) const {
    std::lock_guard<std::mutex> l(mu_);
    std::string o;
    o += "# HELP vkconvgpt_requests_total HTTP requests by endpoint and status.\n# TYPE vkconvgpt_requests_total counter\n";
    for (auto& [k, v] : requests_)
        o += "vkconvgpt_requests_total{endpoint=\"" + k.first + "\",status=\"" + std::to_string(k.second) + "\"} " +
             std::to_string(v) + "\n";
    auto counter = [&](const char* name, const char* help, int64_t v) {
        o += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name + " " +
             std::to_string(v) + "\n";
    };
    auto gauge = [&](const char* name, const char* help, int64_t v) {
        o += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n" + name + " " +
             std::to_string(v) + "\n";
    };
    counter("vkconvgpt_prompt_tokens_total", "Prompt tokens of admitted requests.", prompt_tokens_);
    counter("vkconvgpt_generation_tokens_total", "Tokens generated.", generated_tokens_);
    counter("vkconvgpt_prompt_tokens_reused_total", "Prompt tokens served from a slot's cached prefix.", reused_tokens_);
    counter("vkconvgpt_client_disconnects_total", "Requests cancelled because the client went away.", disconnects_);
    ttft_.render(o, "vkconvgpt_time_to_first_token_seconds", "Time from arrival to the first generated token.");
    itl_.render(o, "vkconvgpt_time_per_output_token_seconds", "Time between consecutive generated tokens of a request.");
    gauge("vkconvgpt_queue_length", "Requests waiting for a slot.", queue_len);
    gauge("vkconvgpt_slots_busy", "Slots generating.", slots_busy);
    gauge("vkconvgpt_slots_total", "Slots (--parallel).", slots_total);
    gauge("vkconvgpt_gpu_memory_bytes", "GPU memory in use: weights plus every slot's state.", gpu_bytes);
    return o;
}

} // namespace vkc::server
