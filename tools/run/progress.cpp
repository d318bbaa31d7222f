#include "tools/run/progress.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>

#include "tools/run/commands.h"

namespace vkc::tool {

void check(vkc_status st, const std::string& what) {
    if (st != VKC_OK) throw std::runtime_error(what + ": " + vkc_last_error());
}

size_t utf8_bad_offset(const std::string& s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const size_t n = s.size();
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) { ++i; continue; }
        else if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
        else return i;
        if (i + len > n) return i;
        for (size_t k = 1; k < len; ++k) {
            if ((p[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += len;
    }
    return std::string::npos;
}

void add_sampling_flags(CLI::App* sub, SamplingOpts& o) {
    sub->add_option("-n,--max-tokens", o.n, "tokens to generate (<= 0: until eos / stop / context full)");
    sub->add_option("--temp", o.temp, "temperature (<= 0: greedy)");
    sub->add_option("--top-k", o.top_k, "top-k (<= 0: off)");
    sub->add_option("--top-p", o.top_p, "top-p (1: off)");
    sub->add_option("--min-p", o.min_p, "min-p (0: off)");
    sub->add_option("--repeat-penalty", o.repeat, "HF repetition penalty (1: off)");
    sub->add_option("--presence-penalty", o.presence, "OpenAI presence penalty");
    sub->add_option("--frequency-penalty", o.frequency, "OpenAI frequency penalty");
    sub->add_option("--seed", o.seed, "random seed (default: random)");
    sub->add_option("--stop", o.stop, "stop string (repeatable)");
}

vkc_sampler* make_sampler(const SamplingOpts& o) {
    vkc_sampler_params sp = vkc_sampler_default_params();
    sp.temperature = o.temp;
    sp.top_k = o.top_k;
    sp.top_p = o.top_p;
    sp.min_p = o.min_p;
    sp.repetition_penalty = o.repeat;
    sp.presence_penalty = o.presence;
    sp.frequency_penalty = o.frequency;
    sp.seed = o.seed < 0 ? VKC_SEED_RANDOM : (uint64_t)o.seed;
    vkc_sampler* s = nullptr;
    check(vkc_sampler_create(&sp, &s), "sampler");
    return s;
}

void add_model_flags(CLI::App* sub, ModelOpts& o) {
    sub->add_option("--model", o.model, "checkpoint directory (config.json + safetensors [+ tokenizer])")->required();
    sub->add_option("--weights,--precision", o.precision, kWeightsHelp);
    sub->add_option("--device", o.device, "Vulkan device index");
    sub->add_option("--ctx", o.ctx, "context length in tokens (default: the model's)");
}

namespace {
struct Bar {
    int last = -1;
};
bool on_progress(float p, void* user) {
    auto* b = static_cast<Bar*>(user);
    int pct = (int)(p * 100.f + 0.5f);
    if (pct == b->last) return true;
    b->last = pct;
    const int W = 30, fill = pct * W / 100;
    std::fprintf(stderr, "\rloading [%.*s%*s] %3d%%", fill, "##############################", W - fill, "", pct);
    std::fflush(stderr);
    return true;
}
} // namespace

vkc_model* load_model(const ModelOpts& o) {
    vkc_model_params p = vkc_model_default_params();
    const WeightType wt = weights_flag(o.precision);
    p.precision = wt == WeightType::f32    ? VKC_PRECISION_F32
                  : wt == WeightType::q8_0 ? VKC_PRECISION_Q8_0
                  : wt == WeightType::q4_0 ? VKC_PRECISION_Q4_0
                                           : VKC_PRECISION_F16;
    p.device_index = o.device;
    Bar bar;
    const bool tty = isatty(2);
    if (tty) {
        p.progress = on_progress;
        p.progress_user = &bar;
    }
    vkc_model* m = nullptr;
    vkc_status st = vkc_model_load(o.model.c_str(), &p, &m);
    if (tty && bar.last >= 0) std::fprintf(stderr, "\n");
    check(st, "loading " + o.model);
    return m;
}

double now_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

} // namespace vkc::tool
