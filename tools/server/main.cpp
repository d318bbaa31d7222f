// vkconvgpt-server: OpenAI-compatible HTTP server (vLLM / llama-server clients) for ConvGPT models with
// continuous batching. See README.md "Server". Uses the public C API, plus the chat template renderer
// (host/text/chat_template.h; the C API exposes the template source only, as for vkconvgpt-run chat).
#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <ctime>
#include <memory>
#include <thread>

#include "tools/server/http.h"

using namespace vkc::server;

namespace {
std::string piece(vkc_model* m, int32_t id) {
    if (id < 0) return "";
    char b[256];
    int32_t n = 0;
    return vkc_token_to_piece(m, id, b, sizeof b, &n) == VKC_OK ? std::string(b, n) : "";
}
std::string basename_of(std::string p) {
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    size_t k = p.find_last_of('/');
    return k == std::string::npos ? p : p.substr(k + 1);
}
} // namespace

int main(int argc, char** argv) {
    CLI::App app("vkconvgpt-server: OpenAI-compatible HTTP server for ConvGPT models (Vulkan)");
    std::string model_dir, host = "127.0.0.1", name, api_key, precision = "f16";
    int port = 8080, ctx = 2048, parallel = 4, device = -1, queue = 64, threads = 0;
    size_t max_body = 1 << 20;
    app.add_option("--model", model_dir, "checkpoint directory (config.json + safetensors + tokenizer)")->required();
    app.add_option("--host", host, "address to listen on")->capture_default_str();
    app.add_option("--port", port, "TCP port (0: any free port, printed at start)")->capture_default_str();
    app.add_option("--served-model-name", name, "model id in the API (default: the directory's name)");
    app.add_option("--ctx", ctx, "context length of every slot, in tokens (<= 0: the model's maximum)")->capture_default_str();
    app.add_option("--parallel", parallel, "slots: requests generating at once")->capture_default_str()->check(CLI::Range(1, 256));
    app.add_option("--queue", queue, "requests waiting for a slot before 429")->capture_default_str()->check(CLI::Range(0, 100000));
    app.add_option("--api-key", api_key, "require 'Authorization: Bearer KEY' on /v1 (also $VKC_API_KEY)");
    app.add_option("--device", device, "Vulkan device index (see vkconvgpt-run info; default $VKCONVGPT_DEVICE or the best GPU)");
    app.add_option("--precision", precision, "weights on the GPU: f16 | f32")->check(CLI::IsMember({"f16", "f32"}))->capture_default_str();
    app.add_option("--max-body-bytes", max_body, "largest request body (413 above)")->capture_default_str();
    app.add_option("--threads", threads, "HTTP threads (0: parallel + queue + 8, at most 512)");
    CLI11_PARSE(app, argc, argv);
    if (api_key.empty())
        if (const char* k = std::getenv("VKC_API_KEY")) api_key = k;
    if (name.empty()) name = basename_of(model_dir);

    // SIGINT/SIGTERM go to a waiting thread (stops the server cleanly); SIGPIPE is ignored (a client that
    // left makes a write fail instead).
    signal(SIGPIPE, SIG_IGN);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

    vkc_model_params mp = vkc_model_default_params();
    mp.device_index = device;
    mp.precision = precision == "f32" ? VKC_PRECISION_F32 : VKC_PRECISION_F16;
    vkc_model* model = nullptr;
    if (vkc_model_load(model_dir.c_str(), &mp, &model) != VKC_OK) {
        std::fprintf(stderr, "vkconvgpt-server: cannot load %s: %s\n", model_dir.c_str(), vkc_last_error());
        return 1;
    }
    std::unique_ptr<vkc_model, void (*)(vkc_model*)> mg(model, vkc_model_free);
    if (!vkc_model_has_tokenizer(model)) {
        std::fprintf(stderr, "vkconvgpt-server: %s has no tokenizer (tokenizer.json or tokenizer.model)\n", model_dir.c_str());
        return 1;
    }
    const int max_ctx = vkc_model_max_context(model);
    if (ctx <= 0 || ctx > max_ctx) ctx = max_ctx;

    ServerState st;
    st.model = model;
    st.model_name = name;
    st.api_key = api_key;
    st.bos = piece(model, vkc_model_bos(model));
    st.eos = piece(model, vkc_model_eos(model));
    st.created = (int64_t)std::time(nullptr);
    const std::string src = vkc_model_chat_template(model);
    if (src.empty()) {
        std::fprintf(stderr, "vkconvgpt-server: the model has no chat template; chat uses ChatML\n");
    } else {
        try {
            st.tmpl = std::make_unique<vkc::ChatTemplate>(src);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "vkconvgpt-server: %s\n", e.what());
            return 1;
        }
    }
    Metrics metrics;
    st.metrics = &metrics;
    std::unique_ptr<Scheduler> sched;
    try {
        SchedulerOptions so;
        so.n_slots = parallel;
        so.n_ctx = ctx;
        so.queue_max = queue;
        sched = std::make_unique<Scheduler>(model, so, metrics);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "vkconvgpt-server: %s\n", e.what());
        return 1;
    }
    st.sched = sched.get();

    httplib::Server svr;
    // Every waiting or generating request holds an HTTP thread (streams block on their job); the rest
    // answer /health, /metrics and 429s.
    const int n_threads = threads > 0 ? threads : std::min(512, parallel + queue + 8);
    svr.new_task_queue = [n_threads] { return new httplib::ThreadPool((size_t)n_threads); };
    svr.set_payload_max_length(max_body);
    svr.set_read_timeout(60, 0);
    svr.set_write_timeout(60, 0);
    svr.set_logger([&metrics](const httplib::Request& req, const httplib::Response& res) {
        metrics.request(req.path, res.status);
    });
    install_routes(svr, st);

    int bound = port == 0 ? svr.bind_to_any_port(host) : (svr.bind_to_port(host, port) ? port : -1);
    if (bound < 0) {
        std::fprintf(stderr, "vkconvgpt-server: cannot listen on %s:%d\n", host.c_str(), port);
        return 1;
    }
    std::thread sig_thread([&svr, sigs] {
        int sig = 0;
        sigwait(&sigs, &sig);
        svr.stop();
    });
    std::fprintf(stderr, "vkconvgpt-server: model %s (%s) on %s, %d slots x %d tokens, listening on http://%s:%d\n",
                 name.c_str(), vkc_model_arch(model), vkc_model_device_name(model), parallel, sched->n_ctx(),
                 host.c_str(), bound);
    std::fflush(stderr);
    const bool ok = svr.listen_after_bind();
    pthread_kill(sig_thread.native_handle(), SIGTERM); // lets the waiting thread return when listen ended by itself
    sig_thread.join();
    sched.reset();
    return ok ? 0 : 1;
}
