#include "tools/server/scheduler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace vkc::server {

// ---- Job ---------------------------------------------------------------------------------------------

bool Job::take(std::vector<TokenOut>& out, std::chrono::milliseconds wait) {
    std::unique_lock<std::mutex> l(mu_);
    if (pending_.empty() && !done_) cv_.wait_for(l, wait, [&] { return !pending_.empty() || done_; });
    for (auto& t : pending_) out.push_back(std::move(t));
    pending_.clear();
    return done_;
}

void Job::cancel() { cancelled_ = true; }

void Job::push(TokenOut t) {
    std::lock_guard<std::mutex> l(mu_);
    pending_.push_back(std::move(t));
    cv_.notify_all();
}

void Job::finish(const std::string& reason, const std::string& err) {
    std::lock_guard<std::mutex> l(mu_);
    if (done_) return;
    finish_reason = reason;
    error = err;
    done_ = true;
    cv_.notify_all();
}

namespace {

// Text of a generation through the public C API: windowed re-detokenization (the text of ids
// [prefix, end) minus that of [prefix, read)), so SentencePiece spaces and multi-token UTF-8 come out
// right; text ending in U+FFFD (an unfinished byte sequence) is held until the next token.
class TextStream {
public:
    explicit TextStream(const vkc_model* m) : m_(m) {}
    std::string push(int32_t id) {
        char tmp[8];
        int32_t n = 0;
        // Ids outside the tokenizer (a padded vocabulary) have no text.
        vkc_status st = vkc_token_to_piece(m_, id, tmp, sizeof tmp, &n);
        if (st != VKC_OK && st != VKC_BUFFER_TOO_SMALL) return "";
        ids_.push_back(id);
        return emit(false);
    }
    std::string flush() { return emit(true); }

private:
    std::string decode(size_t a, size_t b) {
        if (a >= b) return "";
        int32_t n = 0;
        vkc_status st = vkc_detokenize(m_, ids_.data() + a, int32_t(b - a), true, nullptr, 0, &n);
        if (st != VKC_OK && st != VKC_BUFFER_TOO_SMALL) return "";
        std::string s(size_t(n) + 1, '\0');
        if (vkc_detokenize(m_, ids_.data() + a, int32_t(b - a), true, s.data(), n + 1, &n) != VKC_OK) return "";
        s.resize(n);
        return s;
    }
    std::string emit(bool final) {
        const std::string before = decode(prefix_, read_), after = decode(prefix_, ids_.size());
        if (after.size() <= before.size() || after.compare(0, before.size(), before) != 0) {
            if (!final) return "";
        }
        static const std::string kRepl = "\xEF\xBF\xBD";
        if (!final && after.size() >= 3 && after.compare(after.size() - 3, 3, kRepl) == 0) return "";
        std::string out = after.size() > before.size() ? after.substr(before.size()) : "";
        prefix_ = read_;
        read_ = ids_.size();
        // Keep the window short: the ids before prefix_ are never decoded again.
        if (prefix_ > 64) {
            ids_.erase(ids_.begin(), ids_.begin() + prefix_);
            read_ -= prefix_;
            prefix_ = 0;
        }
        return out;
    }
    const vkc_model* m_;
    std::vector<int32_t> ids_;
    size_t prefix_ = 0, read_ = 0;
};

// Holds back text that could be the start of a stop string; on a match releases the text before it.
class StopMatcher {
public:
    explicit StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}
    std::string push(const std::string& text, bool* hit) {
        *hit = false;
        held_ += text;
        size_t at = std::string::npos;
        for (auto& s : stops_) at = std::min(at, held_.find(s));
        if (at != std::string::npos) {
            *hit = true;
            std::string out = held_.substr(0, at);
            held_.clear();
            return out;
        }
        size_t hold = 0;
        for (auto& s : stops_)
            for (size_t k = std::min(s.size() - 1, held_.size()); k > hold; --k)
                if (held_.compare(held_.size() - k, k, s, 0, k) == 0) {
                    hold = k;
                    break;
                }
        std::string out = held_.substr(0, held_.size() - hold);
        held_.erase(0, held_.size() - hold);
        return out;
    }
    std::string flush() {
        std::string o;
        o.swap(held_);
        return o;
    }

private:
    std::vector<std::string> stops_;
    std::string held_;
};

// log-softmax of the chosen id and the top k alternatives.
void logprobs_of(const float* x, int V, int32_t id, int k, TokenOut& t) {
    const float mx = *std::max_element(x, x + V);
    double sum = 0;
    for (int i = 0; i < V; ++i) sum += std::exp(double(x[i]) - mx);
    const double lse = mx + std::log(sum);
    t.logprob = float(x[id] - lse);
    if (k <= 0) return;
    std::vector<int32_t> idx(V);
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + std::min(k, V), idx.end(),
                      [&](int32_t a, int32_t b) { return x[a] > x[b] || (x[a] == x[b] && a < b); });
    for (int i = 0; i < std::min(k, V); ++i) t.top.push_back({idx[i], float(x[idx[i]] - lse)});
}

} // namespace

struct Scheduler::Slot {
    vkc_session* session = nullptr;
    std::vector<int32_t> tokens; // what the session holds (mirror of vkc_session_tokens)
    std::shared_ptr<Job> job;    // null: free
    vkc_sampler* sampler = nullptr;
    int32_t next = -1;           // sampled, to be evaluated by the next step
    int32_t n_generated = 0;
    Clock::time_point last_token;
    std::unique_ptr<TextStream> text;
    std::unique_ptr<StopMatcher> stop;
    std::vector<float> logits;   // [vocab] after prefill
    // The next token is the argmax of the raw logits (greedy sampler, no logprobs): the decode step's GPU
    // argmax serves it, and its logits need not be read back.
    bool greedy_pick_only() const { return job && vkc_sampler_is_greedy(sampler) && job->cfg.logprobs < 0; }
};

Scheduler::Scheduler(vkc_model* model, const SchedulerOptions& o, Metrics& metrics)
    : model_(model), metrics_(metrics), queue_max_(o.queue_max) {
    vocab_ = vkc_model_vocab_size(model);
    eos_ = vkc_model_eos(model);
    vkc_session_params sp = vkc_session_default_params();
    sp.n_ctx = o.n_ctx;
    gpu_bytes_ = vkc_model_weight_bytes(model);
    for (int i = 0; i < o.n_slots; ++i) {
        auto s = std::make_unique<Slot>();
        if (vkc_session_create(model, &sp, &s->session) != VKC_OK)
            throw std::runtime_error(std::string("creating slot ") + std::to_string(i) + ": " + vkc_last_error());
        size_t bytes = 0;
        if (vkc_session_state_size(s->session, &bytes) == VKC_OK) gpu_bytes_ += (int64_t)bytes;
        n_ctx_ = vkc_session_n_ctx(s->session);
        s->logits.resize(vocab_);
        slots_.push_back(std::move(s));
    }
    thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() {
    {
        std::lock_guard<std::mutex> l(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    for (auto& j : queue_) j->finish("", "server shutting down");
    for (auto& s : slots_) {
        if (s->job) s->job->finish("", "server shutting down");
        vkc_sampler_free(s->sampler);
        vkc_session_free(s->session);
    }
}

bool Scheduler::submit(const std::shared_ptr<Job>& job) {
    {
        std::lock_guard<std::mutex> l(mu_);
        const int free_slots = (int)slots_.size() - busy_.load();
        if ((int)queue_.size() >= queue_max_ + std::max(0, free_slots)) return false;
        queue_.push_back(job);
    }
    cv_.notify_all();
    return true;
}

int Scheduler::queue_length() {
    std::lock_guard<std::mutex> l(mu_);
    return (int)queue_.size();
}

int Scheduler::slots_busy() { return busy_.load(); }

void Scheduler::wake() { cv_.notify_all(); }

void Scheduler::release(Slot& s, const std::string& reason, const std::string& err) {
    if (!s.job) return;
    if (err.empty() && !s.job->cancelled()) {
        bool hit = false;
        std::string rest = s.stop->push(s.text->flush(), &hit);
        if (!hit) rest += s.stop->flush();
        if (!rest.empty()) s.job->push(TokenOut{rest, -1, 0, {}});
    }
    if (s.job->cancelled()) metrics_.disconnect();
    s.job->n_generated = s.n_generated;
    metrics_.tokens(0, s.n_generated);
    s.job->finish(reason, err);
    s.job.reset();
    vkc_sampler_free(s.sampler);
    s.sampler = nullptr;
    s.text.reset();
    s.stop.reset();
    s.next = -1;
    --busy_;
}

// Samples the slot's next token from logits [vocab] and hands its text to the job; ends the job on
// eos, a stop string, max_tokens or a full context.
void Scheduler::accept_token(Slot& s, const float* logits, int32_t pick) {
    Job& job = *s.job;
    int32_t id = -1;
    if (pick != -2 && s.greedy_pick_only()) {
        if (pick < 0) return release(s, "", "sampling failed: every logit is -inf or NaN");
        id = pick;
    } else {
        id = vkc_sampler_sample(s.sampler, logits, vocab_, s.tokens.data(), (int32_t)s.tokens.size());
        if (id < 0) return release(s, "", std::string("sampling failed: ") + vkc_last_error());
    }
    const auto now = Clock::now();
    if (s.n_generated == 0)
        metrics_.ttft(std::chrono::duration<double>(now - job.arrived).count());
    else
        metrics_.inter_token(std::chrono::duration<double>(now - s.last_token).count());
    s.last_token = now;
    ++s.n_generated;
    if (id == eos_ && !job.cfg.ignore_eos) return release(s, "stop");
    TokenOut t;
    t.id = id;
    if (job.cfg.logprobs >= 0) logprobs_of(logits, vocab_, id, job.cfg.logprobs, t);
    bool hit = false;
    t.text = s.stop->push(s.text->push(id), &hit);
    job.push(std::move(t));
    if (hit) return release(s, "stop");
    if (s.n_generated >= job.cfg.max_tokens) return release(s, "length");
    if ((int)s.tokens.size() >= n_ctx_) return release(s, "length");
    s.next = id;
}

void Scheduler::admit(Slot& s, std::shared_ptr<Job> job) {
    const std::vector<int32_t>& p = job->cfg.prompt;
    // Reuse the cached prefix, but evaluate at least one token (its logits start the generation).
    size_t keep = 0;
    while (keep < s.tokens.size() && keep < p.size() && s.tokens[keep] == p[keep]) ++keep;
    keep = std::min(keep, p.size() - 1);
    s.job = std::move(job);
    ++busy_;
    s.n_generated = 0;
    s.text = std::make_unique<TextStream>(model_);
    s.stop = std::make_unique<StopMatcher>(s.job->cfg.stop);
    if (vkc_sampler_create(&s.job->cfg.sampling, &s.sampler) != VKC_OK)
        return release(s, "", std::string("sampler: ") + vkc_last_error());
    vkc_status st = vkc_session_truncate(s.session, (int32_t)keep);
    if (st == VKC_OK) {
        s.tokens.resize(keep);
        st = vkc_session_eval(s.session, p.data() + keep, int32_t(p.size() - keep), s.logits.data());
    }
    if (st != VKC_OK) {
        std::string err = vkc_last_error();
        vkc_session_reset(s.session);
        s.tokens.clear();
        return release(s, "", "prompt evaluation failed: " + err);
    }
    s.tokens.assign(p.begin(), p.end());
    s.job->n_prompt = (int32_t)p.size();
    s.job->n_reused = (int32_t)keep;
    metrics_.tokens((int64_t)p.size(), 0);
    metrics_.prompt_reused((int64_t)keep);
    accept_token(s, s.logits.data());
}

void Scheduler::loop() {
    std::vector<vkc_session*> sessions;
    std::vector<int32_t> ids;
    std::vector<Slot*> active;
    std::vector<float> logits;
    std::vector<int32_t> picks;
    for (;;) {
        std::vector<std::shared_ptr<Job>> admitted;
        {
            std::unique_lock<std::mutex> l(mu_);
            cv_.wait(l, [&] {
                if (stop_) return true;
                if (busy_.load() > 0) return true;
                return !queue_.empty();
            });
            if (stop_) return;
            // Jobs whose clients left while queued never take a slot.
            for (auto it = queue_.begin(); it != queue_.end();) {
                if ((*it)->cancelled()) {
                    metrics_.disconnect();
                    (*it)->finish("", "client disconnected");
                    it = queue_.erase(it);
                } else {
                    ++it;
                }
            }
        }
        for (auto& s : slots_)
            if (s->job && s->job->cancelled()) release(*s, "", "client disconnected");
        // Admit queued jobs into free slots: each takes the free slot with the longest shared prefix.
        for (;;) {
            std::shared_ptr<Job> job;
            Slot* best = nullptr;
            {
                std::lock_guard<std::mutex> l(mu_);
                if (queue_.empty()) break;
                size_t best_len = 0;
                const auto& p = queue_.front()->cfg.prompt;
                for (auto& s : slots_) {
                    if (s->job) continue;
                    size_t k = 0;
                    while (k < s->tokens.size() && k < p.size() && s->tokens[k] == p[k]) ++k;
                    if (!best || k > best_len) best = s.get(), best_len = k;
                }
                if (!best) break;
                job = queue_.front();
                queue_.pop_front();
            }
            admit(*best, job);
        }
        // One decode step over every active slot.
        sessions.clear();
        ids.clear();
        active.clear();
        for (auto& s : slots_)
            if (s->job && s->next >= 0) active.push_back(s.get()), sessions.push_back(s->session), ids.push_back(s->next);
        if (active.empty()) continue;
        // Greedy jobs take the step's GPU argmax; the [n, vocab] logits come back only when a job samples.
        bool need_logits = false;
        for (Slot* s : active) need_logits = need_logits || !s->greedy_pick_only();
        logits.resize(need_logits ? active.size() * size_t(vocab_) : 0);
        picks.assign(active.size(), -2);
        vkc_status st = vkc_decode_batch_argmax(sessions.data(), ids.data(), (int32_t)active.size(),
                                                need_logits ? logits.data() : nullptr, picks.data());
        if (st != VKC_OK) {
            const std::string err = std::string("decode failed: ") + vkc_last_error();
            for (Slot* s : active) {
                vkc_session_reset(s->session);
                s->tokens.clear();
                release(*s, "", err);
            }
            continue;
        }
        for (size_t i = 0; i < active.size(); ++i) {
            Slot& s = *active[i];
            s.tokens.push_back(s.next);
            s.next = -1;
            accept_token(s, need_logits ? logits.data() + i * size_t(vocab_) : nullptr, picks[i]);
        }
    }
}

} // namespace vkc::server
