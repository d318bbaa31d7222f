// vkconvgpt-run bench --model DIR [--startup] [-p 512] [-n 128] [-r 5] [--weights f32|f16|q8_0|q4_0] [-o md|json]
//                     [--positions 256,1024,...] [--unfused qkv_rope] [--profile] [--profile-prefill N]
// pp: prompt processing (one batched prefill of p tokens); tg: token generation (n decode steps after a
// 32-token prompt). --positions: decode time per token after filling the context to each position.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <map>
#include <numeric>

#include "model/model.h"
#include "tools/run/bench_startup.h"
#include "tools/run/commands.h"

namespace vkc::tool {

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

struct Stat {
    double mean = 0, sd = 0;
};

Stat stat(const std::vector<double>& v) {
    Stat s;
    if (v.empty()) return s;
    s.mean = std::accumulate(v.begin(), v.end(), 0.0) / v.size();
    for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
    s.sd = v.size() > 1 ? std::sqrt(s.sd / (v.size() - 1)) : 0;
    return s;
}

std::vector<int32_t> synthetic_ids(int n, int vocab, int salt) {
    std::vector<int32_t> ids(n);
    for (int i = 0; i < n; ++i) ids[i] = int32_t((uint64_t(i + 1) * 2654435761ull + salt) % uint64_t(vocab));
    return ids;
}

// Per-kernel table of a timestamped submission: calls and GPU time per label.
void print_profile(const std::string& title, const std::vector<std::pair<std::string, double>>& prof) {
    std::map<std::string, std::pair<double, int>> by_kernel;
    double total = 0;
    for (auto& [label, ns] : prof) {
        by_kernel[label].first += ns;
        by_kernel[label].second += 1;
        total += ns;
    }
    std::printf("%s: %zu dispatches, %.1f us GPU time\n", title.c_str(), prof.size(), total / 1000.0);
    std::printf("| kernel | calls | us | share |\n| --- | ---: | ---: | ---: |\n");
    for (auto& [label, v] : by_kernel)
        std::printf("| %s | %d | %.1f | %.1f%% |\n", label.c_str(), v.second, v.first / 1000.0, 100.0 * v.first / total);
    std::printf("\n");
}

} // namespace

Runner add_bench(CLI::App& app) {
    struct Opts {
        std::string model, precision = "f16", output = "md", positions;
        std::vector<std::string> unfused;
        bool profile = false;
        int profile_prefill = 0;
        int p = 512, n = 128, r = 5, device = -1, max_batch = 512, prompt = 32, batch = 1, chain = 0;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = app.add_subcommand("bench", "prompt-processing and token-generation speed");
    sub->add_option("--model", o->model, "checkpoint directory")->required();
    sub->add_option("-p,--prompt-tokens", o->p, "prefill length for pp (0: skip)");
    sub->add_option("-n,--gen-tokens", o->n, "decode steps for tg (0: skip)");
    sub->add_option("-r,--repetitions", o->r, "repetitions (mean and standard deviation)");
    sub->add_option("--weights,--precision", o->precision, kWeightsHelp);
    sub->add_option("-o,--output", o->output, "md (default) or json");
    sub->add_option("--positions", o->positions, "comma-separated context positions for decode-cost-vs-position");
    sub->add_option("--device", o->device, "Vulkan device index");
    sub->add_flag("--profile", o->profile, "per-kernel GPU time of one decode step (timestamps)");
    sub->add_option("--profile-prefill", o->profile_prefill,
                    "per-kernel GPU time of one prefill submission of N tokens (N <= --max-batch)");
    sub->add_option("--max-batch", o->max_batch, "tokens per prefill chunk");
    sub->add_option("--batch", o->batch, "tg and --profile: decode B sequences per step (Model::decode_batch); "
                                         "tg reports their aggregate tokens/s")
        ->check(CLI::Range(1, 64));
    sub->add_option("--chain", o->chain, "tg: also time greedy decoding N tokens per submission "
                                         "(Sequence::decode_greedy: picks on the GPU, no host round trip)")
        ->check(CLI::Range(0, kMaxGreedySteps));
    sub->add_option("--unfused", o->unfused, "comma-separated fusions to turn off, to measure each: qkv_rope "
                                             "(the qkv matvec + qk_norm_rope instead of qkv_rope)")
        ->delimiter(',');
    auto st = std::make_shared<std::pair<bool, bool>>(false, false); // --startup, --startup-child
    sub->add_flag("--startup", st->first,
                  "time from process start to first token, cold and warm (pipeline + driver shader cache)");
    sub->add_flag("--startup-child", st->second, "(internal: one --startup run)")->group("");
    return [o, st]() {
        if (st->first || st->second) { // bench_startup.cpp
            StartupArgs a{o->model, o->precision, o->output, o->r, o->device, o->max_batch};
            return st->second ? run_startup_child(a) : run_startup_bench(a);
        }
        if (o->r < 1) fail(Status::invalid_argument, "-r must be >= 1");
        ModelOptions mo;
        mo.weight_type = weights_flag(o->precision);
        mo.device_index = o->device;
        mo.max_batch = o->max_batch;
        for (const std::string& f : o->unfused) {
            if (f == "qkv_rope") mo.fuse_qkv_rope = false;
            else fail(Status::invalid_argument, "--unfused: unknown fusion '" + f + "' (known: qkv_rope)");
        }
        auto t_load = clock_type::now();
        auto model = Model::load(o->model, mo);
        double load_s = seconds_since(t_load);
        const int V = model->vocab_size();
        std::vector<float> logits(V);
        Context& c = model->context();
        std::string arch = model->config().arch == Arch::v1 ? "convgpt" : "convgpt_v2";
        nlohmann::json rows = nlohmann::json::array();
        auto add_row = [&](const std::string& test, const std::vector<double>& tps, uint32_t dispatches) {
            Stat s = stat(tps);
            rows.push_back({{"model", o->model}, {"arch", arch}, {"weights", o->precision},
                            {"size_bytes", model->weight_bytes()}, {"device", c.device_name()},
                            {"driver", c.driver_info()}, {"test", test}, {"tokens_per_s", s.mean},
                            {"stddev", s.sd}, {"reps", tps.size()}, {"dispatches_per_step", dispatches}});
        };
        const int ctx = std::max({o->p, o->prompt + o->n, 64, 2 * (o->chain + 1), o->profile_prefill}) + 1; // chains: 2 slots per step
        if (o->p > 0) {
            auto seq = model->new_sequence(ctx);
            auto ids = synthetic_ids(o->p, V, 1);
            // warm-up for at least 0.25 s: one prefill left the H100's clocks ramping (first reps up to 3x slower)
            for (auto t0 = clock_type::now(); seconds_since(t0) < 0.25;) {
                seq->reset();
                seq->prefill(ids.data(), o->p, Logits::last, logits.data());
            }
            std::vector<double> tps;
            for (int r = 0; r < o->r; ++r) {
                seq->reset();
                auto t0 = clock_type::now();
                seq->prefill(ids.data(), o->p, Logits::last, logits.data());
                tps.push_back(o->p / seconds_since(t0));
            }
            add_row("pp" + std::to_string(o->p), tps, 0);
        }
        if (o->n > 0) {
            // B sequences with distinct prompts, one decode_batch step per token (B == 1: decode()).
            const int B = o->batch;
            std::vector<std::unique_ptr<Sequence>> seqs;
            std::vector<Sequence*> sp;
            for (int b = 0; b < B; ++b) seqs.push_back(model->new_sequence(ctx)), sp.push_back(seqs.back().get());
            std::vector<float> blog(size_t(B) * V);
            std::vector<int32_t> next(B);
            std::vector<double> tps;
            for (int r = 0; r < o->r + 1; ++r) { // first repetition is a warm-up
                for (int b = 0; b < B; ++b) {
                    auto prompt = synthetic_ids(o->prompt, V, 2 + b);
                    sp[b]->reset();
                    sp[b]->prefill(prompt.data(), o->prompt, Logits::last, logits.data());
                    next[b] = 1;
                }
                auto t0 = clock_type::now();
                for (int i = 0; i < o->n; ++i) {
                    if (B == 1)
                        sp[0]->decode(next[0], blog.data());
                    else
                        model->decode_batch(sp.data(), next.data(), B, blog.data());
                    for (int b = 0; b < B; ++b) {
                        const float* row = blog.data() + size_t(b) * V;
                        next[b] = int32_t(std::max_element(row, row + V) - row);
                    }
                }
                if (r > 0) tps.push_back(double(B) * o->n / seconds_since(t0));
            }
            add_row("tg" + std::to_string(o->n) + "@" + std::to_string(o->prompt) +
                        (B > 1 ? " x" + std::to_string(B) + " seqs" : ""),
                    tps, B == 1 ? sp[0]->decode_dispatches() : model->decode_batch_dispatches());
            if (o->chain > 0) { // the same greedy tg, o->chain tokens per submission
                Sequence& s = *sp[0];
                std::vector<int32_t> out(o->chain);
                std::vector<double> ctps;
                int last_k = 1; // steps of the last recorded chain (its dispatches / steps = per token)
                for (int r = 0; r < o->r + 1; ++r) {
                    auto prompt = synthetic_ids(o->prompt, V, 2);
                    s.reset();
                    s.prefill(prompt.data(), o->prompt, Logits::last, logits.data());
                    int32_t x = 1;
                    auto t0 = clock_type::now();
                    for (int done = 0; done < o->n;) {
                        const int k = std::min(o->chain, o->n - done);
                        if (s.decode_greedy(x, k, out.data()) != k) fail(Status::internal, "greedy chain: no pick");
                        x = out[k - 1];
                        done += k;
                        last_k = k;
                    }
                    if (r > 0) ctps.push_back(double(o->n) / seconds_since(t0));
                }
                add_row("tg" + std::to_string(o->n) + "@" + std::to_string(o->prompt) + " chain " +
                            std::to_string(o->chain),
                        ctps, s.greedy_dispatches() / (uint32_t)last_k);
            }
        }
        if (!o->positions.empty()) {
            std::vector<int32_t> positions = parse_ids(o->positions);
            int maxp = *std::max_element(positions.begin(), positions.end());
            const int per_rep = 32 / o->r + 1; // decode steps timed per repetition
            auto seq = model->new_sequence(maxp + per_rep * o->r + 1);
            for (int32_t pos : positions) {
                seq->reset();
                auto ids = synthetic_ids(pos, V, 3);
                if (pos > 0) seq->prefill(ids.data(), pos, Logits::last, logits.data());
                std::vector<double> tps;
                for (int r = 0; r < o->r; ++r) {
                    auto t0 = clock_type::now();
                    for (int i = 0; i < per_rep; ++i) seq->decode(7, logits.data());
                    tps.push_back(per_rep / seconds_since(t0));
                }
                add_row("tg@pos" + std::to_string(pos), tps, seq->decode_dispatches());
            }
        }
        if (o->profile) {
            const int B = o->batch;
            std::vector<std::unique_ptr<Sequence>> seqs;
            std::vector<Sequence*> sp;
            for (int b = 0; b < B; ++b) {
                seqs.push_back(model->new_sequence(ctx)), sp.push_back(seqs.back().get());
                auto prompt = synthetic_ids(o->prompt, V, 2 + b);
                sp[b]->prefill(prompt.data(), o->prompt, Logits::last, logits.data());
            }
            std::vector<int32_t> ones(B, 1);
            model->profile_decode_batch(sp.data(), ones.data(), B); // warm-up
            auto prof = model->profile_decode_batch(sp.data(), ones.data(), B);
            char title[128];
            std::snprintf(title, sizeof title, "decode step of %d sequence(s) at position %d", B, o->prompt);
            print_profile(title, prof);
        }
        if (o->profile_prefill > 0) {
            if (o->profile_prefill > o->max_batch)
                fail(Status::invalid_argument, "--profile-prefill " + std::to_string(o->profile_prefill) +
                                                   " exceeds --max-batch " + std::to_string(o->max_batch));
            auto seq = model->new_sequence(ctx);
            auto ids = synthetic_ids(o->profile_prefill, V, 7);
            seq->profile_prefill(ids.data(), o->profile_prefill); // warm-up
            seq->reset();
            auto prof = seq->profile_prefill(ids.data(), o->profile_prefill);
            print_profile("prefill of " + std::to_string(o->profile_prefill) + " tokens", prof);
        }
        if (o->output == "json") {
            std::printf("%s\n", nlohmann::json{{"load_s", load_s}, {"rows", rows}}.dump(2).c_str());
            return 0;
        }
        std::printf("| model | weights | size | device | test | t/s | ms/token | dispatches/step |\n");
        std::printf("| --- | --- | ---: | --- | --- | ---: | ---: | ---: |\n");
        for (auto& r : rows) {
            double tps = r["tokens_per_s"], sd = r["stddev"];
            std::printf("| %s | %s | %.1f MiB | %s | %s | %.1f ± %.1f | %.3f | %u |\n",
                        r["model"].get<std::string>().c_str(), o->precision.c_str(),
                        double(r["size_bytes"].get<uint64_t>()) / 1048576.0, r["device"].get<std::string>().c_str(),
                        r["test"].get<std::string>().c_str(), tps, sd, 1000.0 / tps,
                        r["dispatches_per_step"].get<uint32_t>());
        }
        std::printf("\ndriver: %s; load %.2f s\n", c.driver_info().c_str(), load_s);
        return 0;
    };
}

} // namespace vkc::tool
