// Prometheus text-format metrics of vkconvgpt-server (counters, gauges, histograms), thread-safe.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace vkc::server {

class Histogram {
public:
    explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}
    void observe(double v);
    // "<name>_bucket{le=...} ...", _sum and _count lines.
    void render(std::string& out, const std::string& name, const std::string& help) const;

private:
    std::vector<double> bounds_;
    std::vector<uint64_t> counts_; // per bucket (not cumulative); last: +Inf
    double sum_ = 0;
    uint64_t count_ = 0;
};

class Metrics {
public:
    Metrics();
    void request(const std::string& endpoint, int status); // one finished HTTP request
    void tokens(int64_t prompt, int64_t generated);
    void prompt_reused(int64_t n);
    void ttft(double seconds);
    void inter_token(double seconds);
    void disconnect();
    // Gauges are sampled by the caller at render time.
    std::string render(int queue_len, int slots_busy, int slots_total, int64_t gpu_bytes) const;

private:
    mutable std::mutex mu_;
    std::map<std::pair<std::string, int>, uint64_t> requests_;
    int64_t prompt_tokens_ = 0, generated_tokens_ = 0, reused_tokens_ = 0, disconnects_ = 0;
    Histogram ttft_, itl_;
};

} // namespace vkc::server
