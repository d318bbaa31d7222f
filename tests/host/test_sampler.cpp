// Sampling (host/src/sampler.h and vkc_sampler_*): greedy, determinism per seed, top-k / top-p /
// min-p support and equivalences, the distribution at temperature T, penalties; the stop-string
// filter and the UTF-8 validator used by generation. CPU only.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "host/src/sampler.h"
#include "host/src/stop_filter.h"
#include "runtime/status.h"
#include "vkconvgpt.h"

using namespace vkc;

namespace {

std::vector<float> random_logits(int n, uint32_t seed, float scale = 3.0f) {
    std::mt19937 g(seed);
    std::normal_distribution<float> d(0.f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(g);
    return v;
}

SamplerParams plain(float t = 1.0f) {
    SamplerParams p;
    p.temperature = t;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 42;
    return p;
}

// Ids sorted by descending probability and their probabilities at temperature 1.
std::vector<std::pair<double, int>> ranked(const std::vector<float>& l) {
    double m = *std::max_element(l.begin(), l.end()), s = 0;
    std::vector<std::pair<double, int>> r;
    for (size_t i = 0; i < l.size(); ++i) r.push_back({std::exp(l[i] - m), (int)i}), s += r.back().first;
    for (auto& x : r) x.first /= s;
    std::sort(r.begin(), r.end(), [](auto& a, auto& b) { return a.first > b.first; });
    return r;
}

TEST(Sampler, GreedyIsArgmaxWithLowestIdOnTies) {
    Sampler s(plain(0.0f));
    std::vector<float> l = {0.5f, 2.0f, -1.0f, 2.0f};
    EXPECT_EQ(s.sample(l.data(), 4, nullptr, 0), 1);
    l[1] = std::numeric_limits<float>::quiet_NaN(); // NaN never wins
    EXPECT_EQ(s.sample(l.data(), 4, nullptr, 0), 3);
    std::vector<float> dead(3, -std::numeric_limits<float>::infinity());
    EXPECT_THROW(s.sample(dead.data(), 3, nullptr, 0), Error);
}

TEST(Sampler, SameSeedSameOutputs) {
    auto l = random_logits(1000, 1, 1.0f);
    SamplerParams p = plain();
    p.top_k = 50;
    Sampler a(p), b(p);
    std::vector<int32_t> xa, xb;
    for (int i = 0; i < 300; ++i) xa.push_back(a.sample(l.data(), 1000, nullptr, 0));
    for (int i = 0; i < 300; ++i) xb.push_back(b.sample(l.data(), 1000, nullptr, 0));
    EXPECT_EQ(xa, xb);
    p.seed = 43;
    Sampler c(p);
    std::vector<int32_t> xc;
    for (int i = 0; i < 300; ++i) xc.push_back(c.sample(l.data(), 1000, nullptr, 0));
    EXPECT_NE(xa, xc);
    a.seed(42); // re-seeding restarts the sequence
    for (int i = 0; i < 300; ++i) ASSERT_EQ(a.sample(l.data(), 1000, nullptr, 0), xa[i]);
}

TEST(Sampler, TruncationsToOneEqualGreedy) {
    for (uint32_t seed = 0; seed < 20; ++seed) {
        auto l = random_logits(5000, seed);
        const int32_t best = Sampler::argmax(l.data(), 5000);
        SamplerParams k1 = plain(1.5f), p0 = plain(1.5f), m1 = plain(1.5f);
        k1.top_k = 1;
        p0.top_p = 1e-6f;
        m1.min_p = 1.0f;
        EXPECT_EQ(Sampler(k1).sample(l.data(), 5000, nullptr, 0), best);
        EXPECT_EQ(Sampler(p0).sample(l.data(), 5000, nullptr, 0), best);
        EXPECT_EQ(Sampler(m1).sample(l.data(), 5000, nullptr, 0), best);
    }
}

TEST(Sampler, TopKTopPMinPKeepTheRightSupport) {
    const int V = 2000;
    auto l = random_logits(V, 7, 1.5f);
    auto r = ranked(l);
    std::set<int> top5, top_p_set, min_p_set;
    for (int i = 0; i < 5; ++i) top5.insert(r[i].second);
    double cum = 0;
    for (auto& x : r) {
        top_p_set.insert(x.second);
        if ((cum += x.first) >= 0.5) break;
    }
    for (auto& x : r)
        if (x.first >= 0.2 * r[0].first) min_p_set.insert(x.second);
    SamplerParams pk = plain(), pp = plain(), pm = plain();
    pk.top_k = 5;
    pp.top_p = 0.5f;
    pm.min_p = 0.2f;
    Sampler sk(pk), sp(pp), sm(pm);
    std::set<int> seen_k, seen_p, seen_m;
    for (int i = 0; i < 3000; ++i) {
        seen_k.insert(sk.sample(l.data(), V, nullptr, 0));
        seen_p.insert(sp.sample(l.data(), V, nullptr, 0));
        seen_m.insert(sm.sample(l.data(), V, nullptr, 0));
    }
    // Nothing outside each support is ever drawn; small supports are drawn entirely in 3000 draws.
    auto subset = [](const std::set<int>& a, const std::set<int>& b) {
        return std::includes(b.begin(), b.end(), a.begin(), a.end());
    };
    EXPECT_EQ(seen_k, top5);
    EXPECT_TRUE(subset(seen_p, top_p_set)) << seen_p.size() << " of " << top_p_set.size();
    EXPECT_TRUE(subset(seen_m, min_p_set)) << seen_m.size() << " of " << min_p_set.size();
    EXPECT_GE(seen_p.size() * 10, top_p_set.size() * 9);
    EXPECT_GE(seen_m.size() * 10, min_p_set.size() * 9);
    EXPECT_GT(top_p_set.size(), 5u); // the cases are not trivial
    EXPECT_GT(min_p_set.size(), 2u);
}

TEST(Sampler, FrequenciesFollowSoftmaxAtTemperature) {
    const std::vector<float> l = {std::log(0.1f), std::log(0.2f), std::log(0.3f), std::log(0.4f)};
    for (float t : {1.0f, 0.5f}) {
        Sampler s(plain(t));
        std::vector<double> want(4);
        double z = 0;
        for (int i = 0; i < 4; ++i) z += want[i] = std::pow(0.1 * (i + 1), 1.0 / t);
        std::vector<int> count(4);
        const int N = 40000;
        for (int i = 0; i < N; ++i) count[s.sample(l.data(), 4, nullptr, 0)]++;
        for (int i = 0; i < 4; ++i) EXPECT_NEAR(count[i] / double(N), want[i] / z, 0.01) << "T " << t << " id " << i;
    }
}

TEST(Sampler, LargeVocab) {
    const int V = 65536, N = 200;
    auto l = random_logits(V, 3);
    auto r = ranked(l);
    std::set<int> top40;
    for (int i = 0; i < 40; ++i) top40.insert(r[i].second);
    SamplerParams p = plain(0.8f);
    p.top_k = 40;
    p.top_p = 0.95f;
    p.min_p = 0.05f;
    for (int top_k : {40, 0}) {
        p.top_k = top_k;
        Sampler s(p);
        auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < N; ++i) {
            int32_t id = s.sample(l.data(), V, nullptr, 0);
            if (top_k) {
                EXPECT_TRUE(top40.count(id));
            }
        }
        double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / N;
        std::printf("[ metric ] sample V=%d top_k=%d top_p=0.95 min_p=0.05: %.0f us\n", V, top_k, us);
    }
}

TEST(Sampler, Penalties) {
    SamplerParams p = plain(0.0f);
    p.repetition_penalty = 2.0f;
    std::vector<float> l = {2.0f, -2.0f, 1.0f};
    std::vector<int32_t> h = {0, 1, 0};
    Sampler::apply_penalties(p, l.data(), 3, h.data(), 3);
    EXPECT_EQ(l, (std::vector<float>{1.0f, -4.0f, 1.0f})); // once per distinct token
    p.repetition_penalty = 1.0f;
    p.presence_penalty = 0.5f;
    p.frequency_penalty = 0.25f;
    l = {2.0f, -2.0f, 1.0f};
    Sampler::apply_penalties(p, l.data(), 3, h.data(), 3);
    EXPECT_EQ(l, (std::vector<float>{1.0f, -2.75f, 1.0f}));
    // The window: only the last id counts.
    p.penalty_last_n = 1;
    l = {2.0f, -2.0f, 1.0f};
    Sampler::apply_penalties(p, l.data(), 3, h.data(), 3);
    EXPECT_EQ(l, (std::vector<float>{1.25f, -2.0f, 1.0f}));
    // Penalties change the greedy choice away from a repeated token.
    std::vector<float> two = {1.0f, 0.9f};
    std::vector<int32_t> seen = {0};
    SamplerParams r = plain(0.0f);
    EXPECT_EQ(Sampler(r).sample(two.data(), 2, seen.data(), 1), 0);
    r.repetition_penalty = 1.5f;
    EXPECT_EQ(Sampler(r).sample(two.data(), 2, seen.data(), 1), 1);
    r.repetition_penalty = 1.0f;
    r.presence_penalty = 0.2f;
    EXPECT_EQ(Sampler(r).sample(two.data(), 2, seen.data(), 1), 1);
    r.penalty_last_n = 0; // off
    EXPECT_EQ(Sampler(r).sample(two.data(), 2, seen.data(), 1), 0);
    // Out-of-range history ids are an error, not a silent write.
    std::vector<int32_t> bad = {5};
    r.penalty_last_n = 64;
    EXPECT_THROW(Sampler(r).sample(two.data(), 2, bad.data(), 1), Error);
}

TEST(Sampler, CApi) {
    vkc_sampler_params p = vkc_sampler_default_params();
    EXPECT_FLOAT_EQ(p.temperature, 0.8f);
    EXPECT_EQ(p.top_k, 40);
    vkc_sampler* s = nullptr;
    p.top_p = 0.0f;
    EXPECT_EQ(vkc_sampler_create(&p, &s), VKC_INVALID_ARGUMENT);
    EXPECT_NE(std::string(vkc_last_error()).find("top_p"), std::string::npos) << vkc_last_error();
    EXPECT_EQ(s, nullptr);
    p = vkc_sampler_default_params();
    p.repetition_penalty = 0.0f;
    EXPECT_EQ(vkc_sampler_create(&p, &s), VKC_INVALID_ARGUMENT);
    p = vkc_sampler_default_params();
    p.seed = 9;
    ASSERT_EQ(vkc_sampler_create(&p, &s), VKC_OK);
    auto l = random_logits(300, 5, 1.0f);
    std::vector<int32_t> a, b;
    for (int i = 0; i < 50; ++i) a.push_back(vkc_sampler_sample(s, l.data(), 300, a.data(), (int32_t)a.size()));
    ASSERT_EQ(vkc_sampler_set_seed(s, 9), VKC_OK);
    for (int i = 0; i < 50; ++i) b.push_back(vkc_sampler_sample(s, l.data(), 300, b.data(), (int32_t)b.size()));
    EXPECT_EQ(a, b);
    for (int32_t x : a) EXPECT_TRUE(x >= 0 && x < 300);
    EXPECT_EQ(vkc_sampler_sample(s, nullptr, 300, nullptr, 0), -(int32_t)VKC_INVALID_ARGUMENT);
    EXPECT_EQ(vkc_sampler_sample(s, l.data(), 0, nullptr, 0), -(int32_t)VKC_INVALID_ARGUMENT);
    EXPECT_EQ(vkc_sampler_sample(s, l.data(), 300, nullptr, 3), -(int32_t)VKC_INVALID_ARGUMENT);
    EXPECT_FALSE(vkc_sampler_is_greedy(s)); // temperature 0.8
    vkc_sampler_free(s);
}

// vkc_sampler_is_greedy: the pick is the argmax of the raw logits (what GPU picks reproduce) exactly
// when the temperature is <= 0 and no penalty changes a logit.
TEST(SamplerApi, IsGreedy) {
    auto greedy_of = [](vkc_sampler_params p) {
        vkc_sampler* s = nullptr;
        EXPECT_EQ(vkc_sampler_create(&p, &s), VKC_OK) << vkc_last_error();
        const bool g = vkc_sampler_is_greedy(s);
        vkc_sampler_free(s);
        return g;
    };
    vkc_sampler_params p = vkc_sampler_default_params();
    p.temperature = 0.0f;
    EXPECT_TRUE(greedy_of(p));
    p.repetition_penalty = 1.3f;
    EXPECT_FALSE(greedy_of(p));
    p.penalty_last_n = 0; // the penalty sees no history
    EXPECT_TRUE(greedy_of(p));
    p = vkc_sampler_default_params();
    p.temperature = -1.0f;
    p.presence_penalty = 0.5f;
    EXPECT_FALSE(greedy_of(p));
    p.presence_penalty = 0.0f;
    p.frequency_penalty = 0.1f;
    EXPECT_FALSE(greedy_of(p));
    EXPECT_FALSE(vkc_sampler_is_greedy(nullptr));
}

// ---- stop strings and UTF-8 ----------------------------------------------------------------------

TEST(StopFilter, HoldsBackPossibleStartsAndCutsAtTheMatch) {
    StopFilter f({"</s>"});
    bool hit = false;
    EXPECT_EQ(f.push("Hello <", &hit), "Hello ");
    EXPECT_FALSE(hit);
    EXPECT_EQ(f.push("/s", &hit), "");
    EXPECT_EQ(f.push("> tail", &hit), "");
    EXPECT_TRUE(hit);
    EXPECT_EQ(f.push("more", &hit), ""); // done
    EXPECT_EQ(f.flush(), "");

    StopFilter g({"</s>"});
    EXPECT_EQ(g.push("a<", &hit), "a");
    EXPECT_EQ(g.push("b<", &hit), "<b");
    EXPECT_EQ(g.flush(), "<"); // end of generation releases held text
}

TEST(StopFilter, EarliestOfSeveralAndMultibyte) {
    bool hit = false;
    StopFilter f({"cd", "bcx", "zz"});
    EXPECT_EQ(f.push("abc", &hit), "a"); // "bc" could start "bcx"
    EXPECT_EQ(f.push("dbcx", &hit), "b"); // "abcd..." cut before "cd"
    EXPECT_TRUE(hit);
    StopFilter g({"\xC3\xA9!"}); // "é!"
    EXPECT_EQ(g.push("caf\xC3\xA9", &hit), "caf");
    EXPECT_EQ(g.push("?", &hit), "\xC3\xA9?");
    EXPECT_EQ(g.push("\xC3\xA9", &hit), "");
    EXPECT_EQ(g.push("!", &hit), "");
    EXPECT_TRUE(hit);
    StopFilter none({});
    EXPECT_EQ(none.push("anything", &hit), "anything");
}

TEST(Utf8, Validator) {
    auto bad = [](const std::string& s) { return utf8_invalid_offset(s.data(), s.size()); };
    const size_t ok = std::string::npos;
    EXPECT_EQ(bad("plain ascii"), ok);
    EXPECT_EQ(bad("h\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), ok);
    EXPECT_EQ(bad(std::string("a\0b", 3)), ok);
    EXPECT_EQ(bad("ab\xFF"), 2u);
    EXPECT_EQ(bad("\xC0\xAF"), 0u);         // overlong
    EXPECT_EQ(bad("x\xE0\x80\xAF"), 1u);    // overlong
    EXPECT_EQ(bad("\xED\xA0\x80"), 0u);     // surrogate
    EXPECT_EQ(bad("\xF4\x90\x80\x80"), 0u); // > U+10FFFF
    EXPECT_EQ(bad("ok\xE2\x82"), 2u);       // truncated
    EXPECT_EQ(bad("\x80"), 0u);             // lone continuation
}

} // namespace
