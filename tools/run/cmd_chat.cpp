// vkconvgpt-run chat --model DIR [sampling flags] [--system TEXT] [--chatml]
// Interactive chat: reads one user message per stdin line (EOF or "/exit" ends). The conversation is
// rendered with the model's chat template (host/text/chat_template.h: the C API exposes the template
// source but no renderer), or ChatML with --chatml; a template that cannot be rendered is an error that
// tells the user to pass --chatml. The session keeps its state between turns: each turn renders the
// whole conversation and evaluates only what is new:
//  1. token prefix: the rendered conversation's tokens start with the session's tokens -> evaluate the rest;
//  2. text prefix: re-tokenizing sampled text need not give the sampled ids back, so when (1) fails but the
//     text the session holds (last rendered prompt + streamed reply) is a prefix of the new rendering,
//     only the new text is tokenized and evaluated after the session's tokens;
//  3. otherwise the session is reset and everything is evaluated again.
// After each turn stderr gets "turn N: evaluated K new tokens, reused P (...)".
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <vector>

#include "host/text/chat_template.h"
#include "tools/run/commands.h"
#include "tools/run/progress.h"

namespace vkc::tool {

namespace {
struct Reply {
    std::string text;
};
bool on_piece(const char* piece, int32_t, void* user) {
    static_cast<Reply*>(user)->text += piece;
    std::fputs(piece, stdout);
    std::fflush(stdout);
    return true;
}
std::vector<int32_t> tokenize(vkc_model* m, const std::string& text) {
    int32_t n = 0;
    vkc_status st = vkc_tokenize(m, text.data(), (int32_t)text.size(), false, nullptr, 0, &n);
    if (st != VKC_OK && st != VKC_BUFFER_TOO_SMALL) check(st, "tokenize");
    std::vector<int32_t> ids(n);
    check(vkc_tokenize(m, text.data(), (int32_t)text.size(), false, ids.data(), n, &n), "tokenize");
    return ids;
}
std::string piece(vkc_model* m, int32_t id) {
    if (id < 0) return "";
    char buf[256];
    int32_t n = 0;
    if (vkc_token_to_piece(m, id, buf, sizeof buf, &n) != VKC_OK) return "";
    return std::string(buf, n);
}
std::vector<int32_t> session_tokens(vkc_session* s) {
    int32_t n = vkc_session_pos(s);
    std::vector<int32_t> ids(n > 0 ? n : 0);
    if (n > 0) check(vkc_session_tokens(s, ids.data(), n, &n), "session tokens");
    return ids;
}
} // namespace

Runner add_chat(CLI::App& app) {
    struct Opts {
        ModelOpts m;
        SamplingOpts s;
        std::string system;
        bool chatml = false;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = app.add_subcommand("chat", "interactive chat on stdin/stdout with the model's chat template");
    add_model_flags(sub, o->m);
    add_sampling_flags(sub, o->s);
    sub->add_option("--system", o->system, "system message");
    sub->add_flag("--chatml", o->chatml, "render with ChatML instead of the model's chat template");
    return [o]() {
        vkc_model* model = load_model(o->m);
        std::unique_ptr<vkc_model, void (*)(vkc_model*)> mg(model, vkc_model_free);
        if (!vkc_model_has_tokenizer(model))
            throw std::runtime_error("chat needs a model with a tokenizer (tokenizer.json or tokenizer.model in " +
                                     o->m.model + ")");
        std::unique_ptr<ChatTemplate> tmpl;
        if (!o->chatml) {
            std::string src = vkc_model_chat_template(model);
            if (src.empty())
                throw std::runtime_error("the model has no chat template; pass --chatml to use ChatML");
            try {
                tmpl = std::make_unique<ChatTemplate>(src);
            } catch (const std::exception& e) {
                throw std::runtime_error(std::string(e.what()) + "; pass --chatml to use ChatML");
            }
        }
        const std::string bos = piece(model, vkc_model_bos(model)), eos = piece(model, vkc_model_eos(model));
        auto render = [&](const std::vector<ChatMessage>& msgs) {
            if (!tmpl) return render_chatml(msgs, true);
            try {
                return tmpl->render(msgs, true, bos, eos);
            } catch (const std::exception& e) {
                throw std::runtime_error(std::string(e.what()) + "; pass --chatml to use ChatML");
            }
        };

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
        gp.add_special = false;

        std::vector<ChatMessage> msgs;
        if (!o->system.empty()) msgs.push_back({"system", o->system});
        std::string held_text; // text whose tokens the session holds (rendered prompt + streamed reply)
        const bool interactive = isatty(0) && isatty(1);
        std::string line;
        for (int turn = 1;; ++turn) {
            if (interactive) {
                std::fputs("> ", stdout);
                std::fflush(stdout);
            }
            if (!std::getline(std::cin, line)) break;
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line == "/exit") break;
            size_t bad = utf8_bad_offset(line);
            if (bad != std::string::npos)
                throw std::runtime_error("input is not valid UTF-8 (byte offset " + std::to_string(bad) + ")");
            msgs.push_back({"user", line});
            const std::string text = render(msgs);
            std::vector<int32_t> all = tokenize(model, text);
            std::vector<int32_t> held = session_tokens(session);
            std::vector<int32_t> fresh;
            const char* how;
            if (!held.empty() && all.size() > held.size() && std::equal(held.begin(), held.end(), all.begin())) {
                fresh.assign(all.begin() + held.size(), all.end());
                how = "token prefix";
            } else if (!held.empty() && text.size() > held_text.size() && text.compare(0, held_text.size(), held_text) == 0) {
                fresh = tokenize(model, text.substr(held_text.size()));
                how = "text prefix";
            } else {
                if (!held.empty()) check(vkc_session_reset(session), "reset");
                fresh = all;
                how = held.empty() ? "first turn" : "prefix changed, reset";
            }
            const int32_t reused = vkc_session_pos(session);
            if (fresh.empty()) throw std::runtime_error("the rendered conversation adds no tokens");
            if (reused + (int64_t)fresh.size() >= vkc_session_n_ctx(session))
                throw std::runtime_error("the conversation (" + std::to_string(reused + fresh.size()) +
                                         " tokens) does not fit the context of " +
                                         std::to_string(vkc_session_n_ctx(session)) + " tokens");
            Reply reply;
            vkc_generate_result res{};
            check(vkc_generate_ids(session, sampler, fresh.data(), (int32_t)fresh.size(), &gp, on_piece, &reply, &res),
                  "generate");
            std::fputs("\n", stdout);
            std::fflush(stdout);
            held_text = text + reply.text;
            msgs.push_back({"assistant", reply.text});
            std::fprintf(stderr, "turn %d: evaluated %zu new tokens, reused %d (%s), generated %d\n", turn, fresh.size(),
                         reused, how, res.n_generated);
        }
        return 0;
    };
}

} // namespace vkc::tool
