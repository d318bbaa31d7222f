// vkconvgpt-run info [--device N]: every Vulkan device, then the chosen one with features and limits.
#include <cstdio>

#include "runtime/context.h"
#include "tools/run/commands.h"

namespace vkc::tool {

Runner add_info(CLI::App& app) {
    auto* sub = app.add_subcommand("info", "print Vulkan devices, the chosen device, its features and limits");
    auto device = std::make_shared<int>(-1);
    sub->add_option("--device", *device, "device index (default: $VKCONVGPT_DEVICE or the best GPU)");
    return [device]() {
        for (auto& d : Context::list_devices())
            std::printf("[%d] %s (%s)\n", d.index, d.name.c_str(), d.type.c_str());
        ContextOptions o;
        o.device_index = *device;
        auto ctx = Context::create(o);
        std::printf("%s\n", ctx->describe().c_str());
        return 0;
    };
}

} // namespace vkc::tool
