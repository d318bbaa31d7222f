// bench --startup (see bench_startup.h). Wall time is measured by the parent from just before spawning
// the child to the moment the child's report line (written right after the first token) arrives, so
// it includes exec, dynamic linking, Vulkan instance/device creation, weight read + upload, pipeline
// creation and the first prefill. The child adds its own breakdown.
//
// Two caches make a start warm: ours (VKCONVGPT_CACHE_DIR/pipelines.bin, a VkPipelineCache) and the
// driver's own shader disk cache (Mesa: MESA_SHADER_CACHE_DIR, NVIDIA: __GL_SHADER_DISK_CACHE_PATH),
// which by default lives in ~/.cache and would make every "cold" run warm. Each child therefore gets
// both pointed into its cache directory: a cold run starts with both empty, a warm run reuses both,
// as an app's first and second start would.
#include "tools/run/bench_startup.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>
#include <vector>

#include "model/model.h"
#include "tools/run/commands.h"

extern char** environ;

namespace vkc::tool {

namespace {

using clock_type = std::chrono::steady_clock;

double since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

std::string self_exe() {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) fail(Status::io_error, "cannot find this executable (/proc/self/exe)");
    buf[n] = 0;
    return buf;
}

struct ChildResult {
    double wall_s = 0;
    nlohmann::json report;
};

// Runs the child with VKCONVGPT_CACHE_DIR=cache_dir; wall time until its report line arrives.
ChildResult spawn_child(const StartupArgs& a, const std::string& cache_dir) {
    const std::string exe = self_exe();
    std::vector<std::string> args = {exe, "bench", "--startup-child", "--model", a.model, "--weights", a.weights,
                                     "--max-batch", std::to_string(a.max_batch)};
    if (a.device >= 0) args.insert(args.end(), {"--device", std::to_string(a.device)});
    std::vector<char*> argv;
    for (auto& s : args) argv.push_back(const_cast<char*>(s.c_str()));
    argv.push_back(nullptr);
    const std::string driver_dir = cache_dir + "/driver";
    setenv("VKCONVGPT_CACHE_DIR", cache_dir.c_str(), 1);
    setenv("MESA_SHADER_CACHE_DIR", driver_dir.c_str(), 1);
    setenv("__GL_SHADER_DISK_CACHE_PATH", driver_dir.c_str(), 1);
    setenv("__GL_SHADER_DISK_CACHE", "1", 1);
    int fds[2];
    if (::pipe(fds) != 0) fail(Status::io_error, "pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    pid_t pid = 0;
    auto t0 = clock_type::now();
    int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    if (rc != 0) {
        ::close(fds[0]);
        fail(Status::io_error, "cannot spawn " + exe);
    }
    ChildResult r;
    std::string line;
    char c;
    while (::read(fds[0], &c, 1) == 1) {
        if (c == '\n') break;
        line += c;
    }
    r.wall_s = since(t0);
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || line.empty())
        fail(Status::internal, "startup child failed (see its error above)");
    r.report = nlohmann::json::parse(line);
    return r;
}

struct Stat {
    double mean = 0, sd = 0;
};
Stat stat(const std::vector<double>& v) {
    Stat s;
    s.mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
    for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
    s.sd = v.size() > 1 ? std::sqrt(s.sd / double(v.size() - 1)) : 0;
    return s;
}

std::string fresh_dir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string t = std::string(tmp && *tmp ? tmp : "/tmp") + "/vkc-startup-XXXXXX";
    std::vector<char> buf(t.begin(), t.end());
    buf.push_back(0);
    if (!::mkdtemp(buf.data())) fail(Status::io_error, "mkdtemp failed in " + t);
    return buf.data();
}

void remove_dir(const std::string& d) {
    std::error_code ec;
    std::filesystem::remove_all(d, ec);
}

// Bytes under path (a file or a directory tree); 0 if absent.
uint64_t bytes_under(const std::filesystem::path& p) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return fs::file_size(p, ec);
    uint64_t n = 0;
    for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
        if (it->is_regular_file(ec)) n += it->file_size(ec);
    return n;
}

} // namespace

int run_startup_child(const StartupArgs& a) {
    auto t0 = clock_type::now();
    ModelOptions mo;
    mo.weight_type = weights_flag(a.weights);
    mo.device_index = a.device;
    mo.max_batch = a.max_batch;
    double first_progress = -1, last_progress = 0;
    mo.progress = [&](float) {
        double t = since(t0);
        if (first_progress < 0) first_progress = t;
        last_progress = t;
        return true;
    };
    auto model = Model::load(a.model, mo);
    const double load_s = since(t0);
    Context& c = model->context();
    const int V = model->vocab_size();
    std::vector<int32_t> prompt(8);
    for (int i = 0; i < 8; ++i) prompt[i] = int32_t((uint64_t(i + 1) * 2654435761ull) % uint64_t(V));
    auto seq = model->new_sequence(64);
    std::vector<float> logits(V);
    seq->prefill(prompt.data(), (int)prompt.size(), Logits::last, logits.data());
    const int32_t first = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
    const double first_token_s = since(t0);
    nlohmann::json j = {{"load_s", load_s},
                        {"upload_s", first_progress < 0 ? 0.0 : last_progress - first_progress},
                        {"before_upload_s", first_progress < 0 ? 0.0 : first_progress},
                        {"pipelines", c.pipelines_created()},
                        {"pipelines_s", double(c.pipeline_create_ns()) * 1e-9},
                        {"first_token_s", first_token_s},
                        {"first_token", first},
                        {"weight_bytes", model->weight_bytes()},
                        {"device", c.device_name()}};
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
    return 0;
}

int run_startup_bench(const StartupArgs& a) {
    if (a.reps < 1) fail(Status::invalid_argument, "-r must be >= 1");
    std::vector<ChildResult> cold, warm;
    std::string warm_dir;
    for (int r = 0; r < a.reps; ++r) { // every cold run gets a fresh, empty cache directory
        std::string d = fresh_dir();
        cold.push_back(spawn_child(a, d));
        if (r == 0) warm_dir = d;
        else remove_dir(d);
    }
    // What the first cold run left for the warm runs.
    const uint64_t app_cache = bytes_under(warm_dir + "/pipelines.bin");
    const uint64_t driver_cache = bytes_under(warm_dir + "/driver");
    for (int r = 0; r < a.reps; ++r) warm.push_back(spawn_child(a, warm_dir));
    remove_dir(warm_dir);
    for (auto* set : {&cold, &warm})
        for (auto& c : *set)
            if (c.report["first_token"] != cold[0].report["first_token"])
                fail(Status::internal, "the startup runs produced different first tokens");
    auto col = [](const std::vector<ChildResult>& v, const char* key) {
        std::vector<double> x;
        for (auto& c : v) x.push_back(key ? c.report[key].get<double>() : c.wall_s);
        return stat(x);
    };
    nlohmann::json rows = nlohmann::json::array();
    for (auto* set : {&cold, &warm}) {
        const bool is_cold = set == &cold;
        Stat w = col(*set, nullptr), load = col(*set, "load_s"), up = col(*set, "upload_s"),
             pl = col(*set, "pipelines_s");
        rows.push_back({{"model", a.model}, {"weights", a.weights}, {"cache", is_cold ? "cold" : "warm"},
                        {"reps", set->size()}, {"wall_s", w.mean}, {"wall_sd", w.sd}, {"load_s", load.mean},
                        {"upload_s", up.mean}, {"pipelines_s", pl.mean},
                        {"pipelines", (*set)[0].report["pipelines"]},
                        {"pipeline_cache_bytes", is_cold ? 0 : app_cache},
                        {"driver_cache_bytes", is_cold ? 0 : driver_cache},
                        {"device", (*set)[0].report["device"]}});
    }
    if (a.output == "json") {
        std::printf("%s\n", rows.dump(2).c_str());
        return 0;
    }
    std::printf("| model | weights | cache | start to first token (s) | model load (s) | weight read+upload (s) | "
                "pipeline creation (s, count) | cache found: pipeline / driver (bytes) |\n"
                "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
    for (auto& r : rows)
        std::printf("| %s | %s | %s | %.3f ± %.3f | %.3f | %.3f | %.3f (%d) | %llu / %llu |\n",
                    r["model"].get<std::string>().c_str(), a.weights.c_str(), r["cache"].get<std::string>().c_str(),
                    r["wall_s"].get<double>(), r["wall_sd"].get<double>(), r["load_s"].get<double>(),
                    r["upload_s"].get<double>(), r["pipelines_s"].get<double>(), r["pipelines"].get<int>(),
                    (unsigned long long)r["pipeline_cache_bytes"].get<uint64_t>(),
                    (unsigned long long)r["driver_cache_bytes"].get<uint64_t>());
    std::printf("\ndevice: %s; %d repetition(s) each; warm/cold = %.2f\n",
                rows[0]["device"].get<std::string>().c_str(), a.reps,
                rows[1]["wall_s"].get<double>() / rows[0]["wall_s"].get<double>());
    return 0;
}

} // namespace vkc::tool
