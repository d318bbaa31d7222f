// vkconvgpt-run eval --model DIR --ids 5,17,3 [--prefill N] [--weights f32|f16|q8_0|q4_0] --out FILE
// The first N ids go through one batched prefill, each remaining id through the replayed decode step;
// writes safetensors with one F32 tensor `logits` [T, vocab].
#include <cstdio>
#include <vector>

#include "model/model.h"
#include "model/safetensors.h"
#include "tools/run/commands.h"

namespace vkc::tool {

std::vector<int32_t> parse_ids(const std::string& text) {
    std::vector<int32_t> ids;
    size_t i = 0;
    while (i <= text.size()) {
        size_t j = text.find(',', i);
        if (j == std::string::npos) j = text.size();
        std::string tok = text.substr(i, j - i);
        char* end = nullptr;
        long long v = tok.empty() ? -1 : std::strtoll(tok.c_str(), &end, 10);
        if (tok.empty() || *end || v < 0 || v > INT32_MAX)
            fail(Status::invalid_argument, "--ids: '" + tok + "' (element " + std::to_string(ids.size()) +
                                               ") is not a non-negative token id");
        ids.push_back((int32_t)v);
        i = j + 1;
    }
    return ids;
}

Runner add_eval(CLI::App& app) {
    struct Opts {
        std::string model, ids, out, precision = "f16";
        int prefill = -1, device = -1, max_batch = 256;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = app.add_subcommand("eval", "logits of a token sequence through prefill and decode");
    sub->add_option("--model", o->model, "checkpoint directory (config.json + safetensors)")->required();
    sub->add_option("--ids", o->ids, "comma-separated token ids")->required();
    sub->add_option("--prefill", o->prefill, "ids run as one batched prefill (default: all); the rest decode");
    sub->add_option("--weights,--precision", o->precision, kWeightsHelp);
    sub->add_option("--out", o->out, "output safetensors file")->required();
    sub->add_option("--device", o->device, "Vulkan device index");
    sub->add_option("--max-batch", o->max_batch, "tokens per prefill chunk");
    return [o]() {
        std::vector<int32_t> ids = parse_ids(o->ids);
        const int T = (int)ids.size();
        int prefill = o->prefill < 0 ? T : o->prefill;
        if (prefill > T) fail(Status::invalid_argument, "--prefill " + std::to_string(prefill) + " exceeds the " +
                                                            std::to_string(T) + " ids given");
        ModelOptions mo;
        mo.weight_type = weights_flag(o->precision);
        mo.device_index = o->device;
        mo.max_batch = o->max_batch;
        auto model = Model::load(o->model, mo);
        const int V = model->vocab_size();
        auto seq = model->new_sequence(0);
        std::vector<float> logits(size_t(T) * V);
        if (prefill > 0) seq->prefill(ids.data(), prefill, Logits::all, logits.data());
        for (int t = prefill; t < T; ++t) seq->decode(ids[t], logits.data() + size_t(t) * V);
        write_safetensors(o->out, {{"logits", DType::f32, {T, V}, logits.data()}},
                          {{"prefill", std::to_string(prefill)}, {"precision", o->precision}});
        std::fprintf(stderr, "wrote logits [%d, %d] to %s (%d prefill, %d decode)\n", T, V, o->out.c_str(), prefill,
                     T - prefill);
        return 0;
    };
}

} // namespace vkc::tool
