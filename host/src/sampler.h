// Token sampling (C++ side of vkc_sampler): penalties, greedy, temperature, top-k, top-p, min-p and a
// seeded draw. Deterministic: the same seed and the same sequence of inputs give the same outputs on
// every platform (the draw uses raw mt19937_64 bits, not a std:: distribution).
#pragma once
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace vkc {

struct SamplerParams {
    float temperature = 0.8f;        // <= 0: greedy
    int top_k = 40;                  // <= 0: off
    float top_p = 0.95f;             // 1: off
    float min_p = 0.05f;             // 0: off
    float repetition_penalty = 1.0f; // HF: logit > 0 ? logit / r : logit * r for seen tokens
    float presence_penalty = 0.0f;   // OpenAI: logit -= presence * (count > 0)
    float frequency_penalty = 0.0f;  // OpenAI: logit -= frequency * count
    int penalty_last_n = 64;         // 0: no penalties; -1: whole history
    uint64_t seed = 0;
};

// Throws Error(invalid_argument) naming the bad field.
void validate(const SamplerParams& p);

class Sampler {
public:
    explicit Sampler(const SamplerParams& p);
    void seed(uint64_t s);
    // logits: [n_vocab]; history: ids so far (only the last penalty_last_n count). Not thread-safe.
    int32_t sample(const float* logits, int n_vocab, const int32_t* history, int n_history);
    const SamplerParams& params() const { return p_; }
    // sample() is the argmax of the raw logits (greedy, and no penalty changes a logit): a GPU argmax
    // gives the same id.
    bool greedy_argmax() const {
        const bool penalties = p_.penalty_last_n != 0 && (p_.repetition_penalty != 1.0f ||
                                                          p_.presence_penalty != 0.0f || p_.frequency_penalty != 0.0f);
        return p_.temperature <= 0.0f && !penalties;
    }

    // Pieces, public for tests. apply_penalties edits `logits` in place.
    static void apply_penalties(const SamplerParams& p, float* logits, int n_vocab, const int32_t* history,
                                int n_history);
    static int32_t argmax(const float* logits, int n);

private:
    double uniform(); // [0, 1) from 53 random bits
    SamplerParams p_;
    std::mt19937_64 rng_;
    std::vector<float> work_;   // [n_vocab] penalized logits
    std::vector<int32_t> idx_;  // candidate ids
    std::vector<std::pair<float, int32_t>> heap_; // top-k selection
    std::vector<double> prob_;  // candidate probabilities
};

} // namespace vkc
