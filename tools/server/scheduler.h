// Continuous-batching scheduler of vkconvgpt-server. --parallel slots (one vkc_session each, created at
// start), a bounded wait queue, one thread that between decode steps admits queued jobs (prefill into
// the free slot with the longest cached prefix, truncated to it), runs ONE vkc_decode_batch_argmax over
// all active slots, samples each slot with its own vkc_sampler (greedy jobs without penalties or
// logprobs take the step's GPU argmax instead, and when all jobs are such, no logits are read back),
// and hands text to the HTTP threads through the job. A job whose client went away (Job::cancel) leaves its slot before the next step.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "host/include/vkconvgpt.h"
#include "tools/server/metrics.h"

namespace vkc::server {

using Clock = std::chrono::steady_clock;

struct TokenOut {
    std::string text;      // complete UTF-8 released at this token (may be "")
    int32_t id = -1;       // -1: end-of-generation text flush
    float logprob = 0;     // log-softmax of the raw logits (when logprobs requested)
    std::vector<std::pair<int32_t, float>> top; // top alternatives (id, logprob)
};

struct JobConfig {
    std::vector<int32_t> prompt;
    vkc_sampler_params sampling;
    int32_t max_tokens = 0;        // > 0
    std::vector<std::string> stop;
    bool ignore_eos = false;
    int32_t logprobs = -1;         // -1 none, else number of top alternatives
};

class Job {
public:
    explicit Job(JobConfig c) : cfg(std::move(c)), arrived(Clock::now()) {}
    const JobConfig cfg;
    const Clock::time_point arrived;

    // HTTP side: waits up to `wait` for new tokens or the end; moves them into out. Returns done().
    bool take(std::vector<TokenOut>& out, std::chrono::milliseconds wait);
    void cancel(); // the client went away: the scheduler frees the slot before its next step
    bool cancelled() const { return cancelled_.load(); }

    // Results (valid once take() returned true).
    std::string finish_reason; // "stop" | "length" | "" (error)
    std::string error;         // non-empty: failed
    int32_t n_prompt = 0, n_generated = 0, n_reused = 0;

    // Scheduler side.
    void push(TokenOut t);
    void finish(const std::string& reason, const std::string& err = "");

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<TokenOut> pending_;
    bool done_ = false;
    std::atomic<bool> cancelled_{false};
};

struct SchedulerOptions {
    int n_slots = 4;
    int n_ctx = 0;
    int queue_max = 64; // jobs waiting beyond the slots; more -> submit() refuses (HTTP 429)
};

class Scheduler {
public:
    // Creates the sessions; throws std::runtime_error naming the problem.
    Scheduler(vkc_model* model, const SchedulerOptions& o, Metrics& metrics);
    ~Scheduler();
    bool submit(const std::shared_ptr<Job>& job); // false: queue full
    int queue_length();
    int slots_busy();
    int slots_total() const { return (int)slots_.size(); }
    int n_ctx() const { return n_ctx_; }
    int64_t gpu_bytes() const { return gpu_bytes_; }
    void wake(); // a job was cancelled

private:
    struct Slot;
    void loop();
    void admit(Slot& s, std::shared_ptr<Job> job);
    // logits: the slot's row; pick: its GPU argmax (-2: none), used instead of the logits by greedy jobs
    void accept_token(Slot& s, const float* logits, int32_t pick = -2);
    void release(Slot& s, const std::string& reason, const std::string& err = "");

    vkc_model* model_;
    Metrics& metrics_;
    int n_ctx_ = 0, vocab_ = 0, eos_ = -1, queue_max_ = 0;
    int64_t gpu_bytes_ = 0;
    std::vector<std::unique_ptr<Slot>> slots_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<Job>> queue_;
    std::atomic<int> busy_{0};
    bool stop_ = false;
    std::thread thread_;
};

} // namespace vkc::server
