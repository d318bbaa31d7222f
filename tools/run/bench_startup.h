// vkconvgpt-run bench --startup: time from process start to the first generated token, cold (empty
// pipeline cache and empty driver shader cache) and warm (the caches the cold run wrote), by spawning
// this binary as a child.
#pragma once
#include <string>

namespace vkc::tool {

struct StartupArgs {
    std::string model, weights = "f16", output = "md";
    int reps = 3, device = -1, max_batch = 512;
};

// Parent: spawns `<self> bench --startup-child ...` reps times cold and reps times warm; prints a table.
int run_startup_bench(const StartupArgs& a);
// Child: load, prefill an 8-token prompt, pick the first token; prints one JSON line with the phases.
int run_startup_child(const StartupArgs& a);

} // namespace vkc::tool
