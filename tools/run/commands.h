// vkconvgpt-run subcommands. Each registers its options on the CLI11 app and runs when selected.
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

#include "model/kernels/kernel.h"

namespace vkc::tool {

using Runner = std::function<int()>;

// Each returns the function that runs the subcommand once parsing succeeded.
Runner add_info(CLI::App& app);
Runner add_eval(CLI::App& app);
Runner add_init_model(CLI::App& app);
Runner add_bench(CLI::App& app);
Runner add_perplexity(CLI::App& app);
Runner add_tokenize(CLI::App& app);
Runner add_generate(CLI::App& app);
Runner add_chat(CLI::App& app);
Runner add_quantize(CLI::App& app);

// --weights (alias --precision): f32 | f16 | q8_0 | q4_0 -> WeightType; Error(invalid_argument) otherwise.
WeightType weights_flag(const std::string& name);
constexpr const char* kWeightsHelp =
    "weight storage on the GPU: f16 (default), f32, q8_0 or q4_0 (a model.gguf of that type loads as is)";

// "5,17,3" -> ids; throws vkc::Error(invalid_argument) naming the bad element.
std::vector<int32_t> parse_ids(const std::string& text);

} // namespace vkc::tool
