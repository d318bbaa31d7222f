// Shared helpers of the text subcommands (generate, chat): a load progress bar on stderr, sampling
// flags, model loading through the public C API, UTF-8 checks and API error reporting.
#pragma once
#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

#include "vkconvgpt.h"

namespace vkc::tool {

// Throws std::runtime_error("<what>: <vkc_last_error()>") when st != VKC_OK.
void check(vkc_status st, const std::string& what);

// Byte offset of the first invalid UTF-8 sequence, or npos.
size_t utf8_bad_offset(const std::string& s);

struct SamplingOpts {
    float temp = 0.8f, top_p = 0.95f, min_p = 0.05f, repeat = 1.f, presence = 0.f, frequency = 0.f;
    int top_k = 40, n = 256;
    int64_t seed = -1; // < 0: random
    std::vector<std::string> stop;
};
void add_sampling_flags(CLI::App* sub, SamplingOpts& o);
vkc_sampler* make_sampler(const SamplingOpts& o); // caller frees

struct ModelOpts {
    std::string model, precision = "f16";
    int device = -1, ctx = 0;
};
void add_model_flags(CLI::App* sub, ModelOpts& o);
// Loads with a progress bar on stderr when it is a TTY (else nothing). Caller frees.
vkc_model* load_model(const ModelOpts& o);

double now_seconds();

} // namespace vkc::tool
