// vkconvgpt-run perplexity --model DIR --file TEXT [--ctx 256] [--weights f32|f16|q8_0|q4_0] [--max-tokens N]
// Perplexity and bits per byte of a text file, computed exactly as tools/train/train_demo.py does:
// ids = the model folder's tokenizer applied to the whole file (no special tokens); windows of ctx
// consecutive ids (the last one shorter); each window runs from a fresh sequence as one batched prefill
// of [bos] + window[:-1] with the logits of every row, so every id is predicted exactly once.
// NLL is summed in double over all ids: perplexity = exp(NLL / ids), bits per byte = NLL / ln 2 / bytes.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "host/text/tokenizer.h"
#include "model/model.h"
#include "model/perplexity.h"
#include "tools/run/commands.h"

namespace vkc::tool {

namespace {

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) fail(Status::io_error, "--file: cannot open " + path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}


} // namespace

Runner add_perplexity(CLI::App& app) {
    struct Opts {
        std::string model, file, precision = "f16";
        int ctx = 256, device = -1, max_batch = 256;
        long long max_tokens = -1;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = app.add_subcommand("perplexity", "perplexity and bits per byte of a text file");
    sub->add_option("--model", o->model, "checkpoint directory (config.json, safetensors, tokenizer)")->required();
    sub->add_option("--file", o->file, "UTF-8 text file")->required();
    sub->add_option("--ctx", o->ctx, "ids per window (default 256)");
    sub->add_option("--weights,--precision", o->precision, kWeightsHelp);
    sub->add_option("--max-tokens", o->max_tokens, "evaluate only the first N ids of the file");
    sub->add_option("--device", o->device, "Vulkan device index");
    sub->add_option("--max-batch", o->max_batch, "tokens per prefill chunk");
    return [o]() {
        weights_flag(o->precision); // validated before the text is read
        if (o->ctx < 1) fail(Status::invalid_argument, "--ctx must be >= 1, got " + std::to_string(o->ctx));
        const std::string text = read_file(o->file);
        // TODO(lead): the tokenizer lives in the vkconvgpt library: vkconvgpt-run must link it
        // (tools/CMakeLists.txt: target_link_libraries(vkconvgpt-run PRIVATE vkconvgpt ...)).
        auto tok = Tokenizer::load(o->model);
        std::vector<int32_t> ids = tok->encode(text, false);
        size_t nbytes = text.size();
        if (o->max_tokens >= 0 && size_t(o->max_tokens) < ids.size()) {
            ids.resize(size_t(o->max_tokens));
            nbytes = 0; // the bytes those ids stand for
            for (int32_t id : ids) nbytes += tok->token_bytes(id).size();
        }
        if (ids.empty()) fail(Status::invalid_argument, "--file: " + o->file + " has no tokens");

        ModelOptions mo;
        mo.weight_type = weights_flag(o->precision);
        mo.device_index = o->device;
        mo.max_batch = o->max_batch;
        auto model = Model::load(o->model, mo);
        const ModelConfig& cfg = model->config();
        int32_t bos = tok->special().bos;
        if (bos < 0) bos = cfg.arch == Arch::v1 ? cfg.v1.bos_token_id : cfg.v2.bos_token_id;
        if (bos < 0) fail(Status::invalid_model, o->model + ": neither the tokenizer nor config.json names a bos token");
        if (cfg.max_context() > 0 && o->ctx > cfg.max_context())
            fail(Status::invalid_argument, "--ctx " + std::to_string(o->ctx) + " exceeds the model's context of " +
                                               std::to_string(cfg.max_context()));
        const int V = model->vocab_size();
        if (tok->vocab_size() > V)
            fail(Status::invalid_model, o->model + ": the tokenizer has " + std::to_string(tok->vocab_size()) +
                                            " ids but the model only " + std::to_string(V));

        auto seq = model->new_sequence(o->ctx);
        std::vector<float> logits(size_t(o->ctx) * V);
        std::vector<int32_t> input;
        double nll = 0;
        size_t windows = 0;
        const auto t0 = std::chrono::steady_clock::now();
        for (size_t s = 0; s < ids.size(); s += size_t(o->ctx)) {
            const size_t n = std::min(ids.size() - s, size_t(o->ctx));
            input.assign(1, bos);
            input.insert(input.end(), ids.begin() + s, ids.begin() + s + n - 1);
            seq->reset();
            seq->prefill(input.data(), int(n), Logits::all, logits.data());
            for (size_t i = 0; i < n; ++i) nll += token_nll(logits.data() + i * V, V, ids[s + i]);
            ++windows;
        }
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double n = double(ids.size());
        std::printf("file %s: %zu bytes, %zu tokens, %zu windows of %d, precision %s\n", o->file.c_str(), nbytes,
                    ids.size(), windows, o->ctx, o->precision.c_str());
        std::printf("perplexity %.4f\n", std::exp(nll / n));
        std::printf("bits_per_token %.5f\n", nll / n / std::log(2.0));
        std::printf("bits_per_byte %.5f\n", nll / std::log(2.0) / double(nbytes));
        std::fprintf(stderr, "%.2f s (%.0f tokens/s)\n", secs, n / std::max(secs, 1e-9));
        return 0;
    };
}

} // namespace vkc::tool
