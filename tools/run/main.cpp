// vkconvgpt-run: info | eval | init-model | bench (see README.md). Errors print one line to stderr and exit non-zero.
#include <cstdio>
#include <map>

#include "runtime/status.h"
#include "tools/run/commands.h"

int main(int argc, char** argv) {
    CLI::App app{"vkconvgpt-run: ConvGPT models on Vulkan"};
    app.require_subcommand(1);
    std::map<CLI::App*, vkc::tool::Runner> runners;
    auto add = [&](vkc::tool::Runner (*fn)(CLI::App&)) {
        size_t before = app.get_subcommands({}).size();
        vkc::tool::Runner r = fn(app);
        auto subs = app.get_subcommands({});
        if (subs.size() > before) runners[subs.back()] = r;
    };
    add(vkc::tool::add_info);
    add(vkc::tool::add_eval);
    add(vkc::tool::add_init_model);
    add(vkc::tool::add_bench);
    add(vkc::tool::add_perplexity);
    add(vkc::tool::add_tokenize);
    add(vkc::tool::add_generate);
    add(vkc::tool::add_chat);
    add(vkc::tool::add_quantize);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        for (auto& [sub, run] : runners)
            if (sub->parsed()) return run();
    } catch (const vkc::Error& e) {
        std::fprintf(stderr, "vkconvgpt-run: error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "vkconvgpt-run: error: %s\n", e.what());
        return 1;
    }
    return 1;
}
