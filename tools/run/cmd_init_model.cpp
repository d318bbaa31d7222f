// vkconvgpt-run init-model --preset NAME --out DIR [--seed S] [--dtype f32|f16|bf16] [--layers N]
// Random-weight HF checkpoint with a real layout (speed on real sizes without downloads).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "model/init_model.h"
#include "tools/run/commands.h"

namespace vkc::tool {

Runner add_init_model(CLI::App& app) {
    struct Opts {
        std::string preset, out, dtype = "bf16";
        uint32_t seed = 1;
        int layers = 0;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = app.add_subcommand("init-model", "write a random-weight checkpoint with a preset's real shapes");
    std::string names;
    for (auto& n : preset_names()) names += (names.empty() ? "" : ", ") + n;
    sub->add_option("--preset", o->preset, "one of: " + names)->required();
    sub->add_option("--out", o->out, "output directory")->required();
    sub->add_option("--seed", o->seed, "random seed");
    sub->add_option("--dtype", o->dtype, "tensor dtype in the file: f32, f16 or bf16 (default)");
    sub->add_option("--layers", o->layers, "override num_hidden_layers (0: the preset's)");
    return [o]() {
        DType dt = o->dtype == "f32" ? DType::f32 : o->dtype == "f16" ? DType::f16 : o->dtype == "bf16" ? DType::bf16 : DType::i8;
        if (dt == DType::i8) fail(Status::invalid_argument, "--dtype must be f32, f16 or bf16, not '" + o->dtype + "'");
        auto cfg = nlohmann::json::parse(preset_config(o->preset));
        if (o->layers > 0) cfg["num_hidden_layers"] = o->layers;
        write_random_checkpoint(o->out, cfg.dump(), o->seed, dt);
        std::fprintf(stderr, "wrote %s (%s) to %s\n", o->preset.c_str(), o->dtype.c_str(), o->out.c_str());
        return 0;
    };
}

} // namespace vkc::tool
