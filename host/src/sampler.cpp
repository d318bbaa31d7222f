#include "host/src/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "model/model.h"
#include "runtime/status.h"

namespace vkc {

void validate(const SamplerParams& p) {
    auto bad = [](const std::string& m) { fail(Status::invalid_argument, "sampler: " + m); };
    if (!std::isfinite(p.temperature)) bad("temperature must be finite");
    if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) bad("top_p must be in (0, 1], not " + std::to_string(p.top_p));
    if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) bad("min_p must be in [0, 1], not " + std::to_string(p.min_p));
    if (!(p.repetition_penalty > 0.0f) || !std::isfinite(p.repetition_penalty))
        bad("repetition_penalty must be > 0, not " + std::to_string(p.repetition_penalty));
    if (!std::isfinite(p.presence_penalty) || !std::isfinite(p.frequency_penalty))
        bad("presence/frequency penalties must be finite");
    if (p.penalty_last_n < -1) bad("penalty_last_n must be >= -1");
}

Sampler::Sampler(const SamplerParams& p) : p_(p) {
    validate(p);
    seed(p.seed);
}

void Sampler::seed(uint64_t s) {
    if (s == UINT64_MAX) s = (uint64_t(std::random_device{}()) << 32) ^ std::random_device{}();
    rng_.seed(s);
}

double Sampler::uniform() { return double(rng_() >> 11) * 0x1.0p-53; }

int32_t Sampler::argmax(const float* l, int n) {
    // First maximum (lowest id on ties); NaN never wins: the model layer's rule, which GPU picks follow.
    const int32_t best = argmax_row(l, n);
    if (best < 0) fail(Status::invalid_argument, "sampler: every logit is -inf or NaN");
    return best;
}

void Sampler::apply_penalties(const SamplerParams& p, float* logits, int n_vocab, const int32_t* history,
                              int n_history) {
    if (p.penalty_last_n == 0 || n_history <= 0) return;
    if (p.repetition_penalty == 1.0f && p.presence_penalty == 0.0f && p.frequency_penalty == 0.0f) return;
    const int n = p.penalty_last_n < 0 ? n_history : std::min(n_history, p.penalty_last_n);
    // The window's ids sorted: runs of equal ids give each token's count (window is small).
    std::vector<int32_t> w(history + n_history - n, history + n_history);
    std::sort(w.begin(), w.end());
    for (size_t i = 0; i < w.size();) {
        size_t j = i;
        while (j < w.size() && w[j] == w[i]) ++j;
        const int32_t id = w[i];
        if (id < 0 || id >= n_vocab)
            fail(Status::invalid_argument, "sampler: history id " + std::to_string(id) + " is out of range [0, " +
                                               std::to_string(n_vocab) + ")");
        float& x = logits[id];
        // HF RepetitionPenaltyLogitsProcessor: once per distinct token.
        if (p.repetition_penalty != 1.0f) x = x > 0 ? x / p.repetition_penalty : x * p.repetition_penalty;
        // OpenAI: presence once, frequency per occurrence.
        x -= p.presence_penalty + p.frequency_penalty * float(j - i);
        i = j;
    }
}

int32_t Sampler::sample(const float* logits, int n_vocab, const int32_t* history, int n_history) {
    if (!logits) fail(Status::invalid_argument, "sampler: logits is NULL");
    if (n_vocab <= 0) fail(Status::invalid_argument, "sampler: n_vocab must be > 0");
    if (n_history < 0 || (n_history > 0 && !history))
        fail(Status::invalid_argument, "sampler: history is NULL or n_history negative");
    const float ninf = -std::numeric_limits<float>::infinity();
    work_.assign(logits, logits + n_vocab);
    for (float& x : work_)
        if (std::isnan(x)) x = ninf; // NaN would break the orderings below
    apply_penalties(p_, work_.data(), n_vocab, history, n_history);
    const float* l = work_.data();
    const int32_t best = argmax(l, n_vocab);
    if (p_.temperature <= 0.0f || l[best] == std::numeric_limits<float>::infinity()) return best;

    // Candidates in descending logit order (ties: lower id first) when top-k is on, else all ids.
    bool sorted = false;
    if (p_.top_k > 0 && p_.top_k < n_vocab) {
        // One pass with a k-entry min-heap: most ids are rejected by one compare with the heap's worst
        // (O(V) for k << V; no sort of the whole vocabulary).
        using Cand = std::pair<float, int32_t>;
        auto better = [](const Cand& a, const Cand& b) {
            return a.first > b.first || (a.first == b.first && a.second < b.second);
        };
        heap_.clear();
        for (int32_t i = 0; i < n_vocab; ++i) {
            if ((int)heap_.size() < p_.top_k) {
                heap_.push_back({l[i], i});
                std::push_heap(heap_.begin(), heap_.end(), better); // front: the worst kept
            } else if (l[i] > heap_.front().first) { // equal logit: the kept lower id wins
                std::pop_heap(heap_.begin(), heap_.end(), better);
                heap_.back() = {l[i], i};
                std::push_heap(heap_.begin(), heap_.end(), better);
            }
        }
        std::sort(heap_.begin(), heap_.end(), better);
        idx_.resize(heap_.size());
        for (size_t i = 0; i < heap_.size(); ++i) idx_[i] = heap_[i].second;
        sorted = true;
    } else {
        idx_.resize(n_vocab);
        for (int i = 0; i < n_vocab; ++i) idx_[i] = i;
    }
    // Softmax of logit / T over the candidates (max subtracted; exp(-inf) = 0).
    const double inv_t = 1.0 / p_.temperature, m = l[best];
    prob_.resize(idx_.size());
    double sum = 0;
    for (size_t i = 0; i < idx_.size(); ++i) sum += prob_[i] = std::exp((double(l[idx_[i]]) - m) * inv_t);
    // min-p: keep p >= min_p * p_max (p_max = 1/sum before normalizing); a linear filter, which also
    // makes the top-p sort below cheap. Its result does not depend on whether top-p ran first.
    size_t kept = idx_.size();
    if (p_.min_p > 0.0f) {
        const double thr = p_.min_p; // relative to the max, whose unnormalized prob is 1
        size_t o = 0;
        for (size_t i = 0; i < kept; ++i)
            if (prob_[i] >= thr) idx_[o] = idx_[i], prob_[o] = prob_[i], ++o;
        kept = o; // >= 1: the max has prob 1
    }
    // top-p: the smallest prefix (by probability) whose mass reaches top_p of the whole distribution.
    if (p_.top_p < 1.0f) {
        const double target = double(p_.top_p) * sum;
        if (!sorted) {
            // Sort a growing prefix only: usually a few dozen ids hold the mass.
            std::vector<std::pair<double, int32_t>> c(kept);
            for (size_t i = 0; i < kept; ++i) c[i] = {prob_[i], idx_[i]};
            auto by_prob = [](const std::pair<double, int32_t>& a, const std::pair<double, int32_t>& b) {
                return a.first > b.first || (a.first == b.first && a.second < b.second);
            };
            size_t m_sorted = std::min<size_t>(kept, 64);
            for (;;) {
                std::partial_sort(c.begin(), c.begin() + m_sorted, c.end(), by_prob);
                double cum = 0;
                for (size_t i = 0; i < m_sorted; ++i) cum += c[i].first;
                if (cum >= target || m_sorted == kept) break;
                m_sorted = std::min(kept, m_sorted * 8);
            }
            for (size_t i = 0; i < m_sorted; ++i) prob_[i] = c[i].first, idx_[i] = c[i].second;
            kept = m_sorted;
        }
        double cum = 0;
        size_t n = 0;
        while (n < kept) {
            cum += prob_[n++];
            if (cum >= target) break;
        }
        kept = n;
    }
    // Draw from the kept candidates, renormalized.
    double mass = 0;
    for (size_t i = 0; i < kept; ++i) mass += prob_[i];
    double r = uniform() * mass;
    for (size_t i = 0; i < kept; ++i) {
        r -= prob_[i];
        if (r < 0) return idx_[i];
    }
    return idx_[kept - 1]; // rounding
}

} // namespace vkc
