// vkconvgpt-run info [--device N] [--limits PROFILE]: every Vulkan device, then the chosen one with
// features and limits after the active limits profile ($VKCONVGPT_LIMITS or --limits; runtime/limits.h).
#include <cstdio>

#include "runtime/context.h"
#include "tools/run/commands.h"

namespace vkc::tool {

Runner add_info(CLI::App& app) {
    auto* sub = app.add_subcommand("info", "print Vulkan devices, the chosen device, its features and limits");
    auto device = std::make_shared<int>(-1);
    sub->add_option("--device", *device, "device index (default: $VKCONVGPT_DEVICE or the best GPU)");
    auto limits = std::make_shared<std::string>();
    sub->add_option("--limits", *limits, "emulated limits profile (default: $VKCONVGPT_LIMITS), e.g. mobile, sg16");
    return [device, limits]() {
        for (auto& d : Context::list_devices())
            std::printf("[%d] %s (%s)\n", d.index, d.name.c_str(), d.type.c_str());
        ContextOptions o;
        o.device_index = *device;
        o.limits_profile = *limits;
        auto ctx = Context::create(o);
        std::printf("%s\n", ctx->describe().c_str());
        return 0;
    };
}

} // namespace vkc::tool
