// vkconvgpt-run generate --model DIR (--prompt TEXT | --prompt-file F | --ids 1,2,3) [sampling flags]
// Streams the generated text to stdout as it is produced (flushed per piece); with --ids on a model
// without a tokenizer, prints the generated ids comma-separated instead. Statistics go to stderr.
// Uses only the public C API (vkconvgpt.h).
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <vector>

#include "tools/run/commands.h"
#include "tools/run/progress.h"

namespace vkc::tool {

namespace {
struct Stream {
    bool print_ids = false;
    int n_ids = 0;
    double t_first = 0;
};
bool on_token(const char* piece, int32_t id, void* user) {
    auto* s = static_cast<Stream*>(user);
    if (id >= 0 && s->t_first == 0) s->t_first = now_seconds();
    if (s->print_ids) {
        if (id >= 0) std::printf("%s%d", s->n_ids++ ? "," : "", id);
    } else {
        std::fputs(piece, stdout);
    }
    std::fflush(stdout);
    return true;
}
std::string read_file(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw std::runtime_error("cannot open --prompt-file " + path);
    std::string s;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    std::fclose(f);
    return s;
}
} // namespace

Runner add_generate(CLI::App& app) {
    struct Opts {
        ModelOpts m;
        SamplingOpts s;
        std::string prompt, prompt_file, ids;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = app.add_subcommand("generate", "generate text from a prompt, streamed to stdout");
    add_model_flags(sub, o->m);
    add_sampling_flags(sub, o->s);
    auto* p1 = sub->add_option("--prompt", o->prompt, "prompt text");
    auto* p2 = sub->add_option("--prompt-file", o->prompt_file, "file holding the prompt (UTF-8)");
    auto* p3 = sub->add_option("--ids", o->ids, "prompt as comma-separated token ids");
    p1->excludes(p2)->excludes(p3);
    p2->excludes(p3);
    return [o, p1, p2, p3]() {
        if (!*p1 && !*p2 && !*p3) throw std::runtime_error("one of --prompt, --prompt-file or --ids is required");
        std::vector<int32_t> ids;
        std::string prompt;
        if (*p3) {
            ids = parse_ids(o->ids);
        } else {
            prompt = *p2 ? read_file(o->prompt_file) : o->prompt;
            if (prompt.empty()) throw std::runtime_error("the prompt is empty");
            if (prompt.find('\0') != std::string::npos) throw std::runtime_error("the prompt contains a NUL byte");
            size_t bad = utf8_bad_offset(prompt);
            if (bad != std::string::npos)
                throw std::runtime_error("the prompt is not valid UTF-8 (byte offset " + std::to_string(bad) + ")");
        }
        vkc_model* model = load_model(o->m);
        std::unique_ptr<vkc_model, void (*)(vkc_model*)> mg(model, vkc_model_free);
        vkc_session_params sp = vkc_session_default_params();
        sp.n_ctx = o->m.ctx;
        vkc_session* session = nullptr;
        check(vkc_session_create(model, &sp, &session), "session");
        std::unique_ptr<vkc_session, void (*)(vkc_session*)> sg(session, vkc_session_free);
        vkc_sampler* sampler = make_sampler(o->s);
        std::unique_ptr<vkc_sampler, void (*)(vkc_sampler*)> smg(sampler, vkc_sampler_free);

        std::vector<const char*> stops;
        for (auto& s : o->s.stop) stops.push_back(s.c_str());
        vkc_generate_params gp = vkc_generate_default_params();
        gp.max_tokens = o->s.n;
        gp.stop = stops.empty() ? nullptr : stops.data();
        gp.n_stop = (int32_t)stops.size();

        Stream st;
        st.print_ids = *p3 && !vkc_model_has_tokenizer(model);
        vkc_generate_result res{};
        const double t0 = now_seconds();
        vkc_status rc = *p3 ? vkc_generate_ids(session, sampler, ids.data(), (int32_t)ids.size(), &gp, on_token, &st, &res)
                            : vkc_generate(session, sampler, prompt.c_str(), &gp, on_token, &st, &res);
        const double t1 = now_seconds();
        if (st.print_ids ? st.n_ids > 0 : res.n_generated > 0) std::printf("\n");
        std::fflush(stdout);
        check(rc, "generate");
        double tps = 0;
        if (res.n_generated > 1 && st.t_first > 0 && t1 > st.t_first)
            tps = (res.n_generated - 1) / (t1 - st.t_first); // decode speed, after the prompt and first token
        else if (res.n_generated > 0 && t1 > t0)
            tps = res.n_generated / (t1 - t0);
        std::fprintf(stderr, "prompt %d tokens, generated %d tokens, %.1f tokens/s\n", res.n_prompt, res.n_generated, tps);
        return 0;
    };
}

} // namespace vkc::tool
