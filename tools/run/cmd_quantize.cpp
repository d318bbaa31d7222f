// vkconvgpt-run quantize --model DIR --type q8_0|q4_0 --out DIR2
// Writes DIR2 = DIR's config.json, tokenizer and other small files + model.gguf (quantize_model_dir in
// model/quant.h). Model::load reads it without re-quantizing when --weights names the same type.
#include <cstdio>

#include "model/quant.h"
#include "tools/run/commands.h"

namespace vkc::tool {

WeightType weights_flag(const std::string& name) {
    WeightType t;
    if (!weight_type_from_name(name, &t))
        fail(Status::invalid_argument, "--weights (--precision) must be f32, f16, q8_0 or q4_0, not '" + name + "'");
    return t;
}

Runner add_quantize(CLI::App& app) {
    struct Opts {
        std::string model, type, out;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = app.add_subcommand("quantize", "write a Q8_0 / Q4_0 GGUF copy of a model directory");
    sub->add_option("--model", o->model, "checkpoint directory (config.json + safetensors or model.gguf)")->required();
    sub->add_option("--type", o->type, "q8_0 or q4_0")->required();
    sub->add_option("--out", o->out, "output directory (config, tokenizer files and model.gguf)")->required();
    return [o]() {
        const WeightType t = weights_flag(o->type);
        if (!weight_type_quantized(t)) fail(Status::invalid_argument, "--type must be q8_0 or q4_0, not '" + o->type + "'");
        const QuantizeStats st = quantize_model_dir(o->model, o->out, t);
        const std::string path = o->out + "/model.gguf";
        std::fprintf(stderr, "wrote %s (%d tensors, %d quantized %s, %.1f MB from %.1f MB)\n", path.c_str(), st.tensors,
                     st.quantized, weight_type_suffix(t), double(st.out_bytes) / 1e6, double(st.in_bytes) / 1e6);
        return 0;
    };
}

} // namespace vkc::tool
