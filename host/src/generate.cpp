// C API generation: vkc_generate (text prompt) and vkc_generate_ids (id prompt). Streams complete
// UTF-8 pieces (vkc::StreamDecoder) through a stop-string filter that holds back text that could be
// the start of a stop string.
#include <algorithm>
#include <cstring>
#include <optional>

#include "host/src/api_internal.h"
#include "host/src/stop_filter.h"

using namespace vkc;
using namespace vkc::api;

namespace {

struct Request {
    vkc_session* s;
    vkc_sampler* sampler;
    vkc_generate_params p;
    vkc_token_fn on_token;
    void* user;
    vkc_generate_result* r;
};

vkc_generate_params params_or_default(const vkc_generate_params* p) {
    return p ? *p : vkc_generate_default_params();
}

std::vector<std::string> stop_strings(const vkc_generate_params& p, const ModelState& m) {
    if (p.n_stop < 0) fail(Status::invalid_argument, "n_stop must be >= 0");
    if (p.n_stop == 0) return {};
    need(p.stop, "stop");
    if (!m.tok) api_fail(VKC_NO_TOKENIZER, "stop strings need a tokenizer; model has no tokenizer");
    std::vector<std::string> out;
    for (int32_t i = 0; i < p.n_stop; ++i) {
        if (!p.stop[i]) fail(Status::invalid_argument, "stop string " + std::to_string(i) + " is NULL");
        std::string s = p.stop[i];
        if (s.empty()) fail(Status::invalid_argument, "stop string " + std::to_string(i) + " is empty");
        if (utf8_invalid_offset(s.data(), s.size()) != std::string::npos)
            fail(Status::invalid_argument, "stop string " + std::to_string(i) + " is not valid UTF-8");
        out.push_back(std::move(s));
    }
    return out;
}

// Evaluates the prompt, then samples, streams and evaluates tokens until a stop (see vkconvgpt.h).
void generate(const Request& q, const std::vector<int32_t>& prompt, const std::vector<std::string>& stops) {
    vkc_session& s = *q.s;
    const ModelState& m = *s.m;
    const int V = m.model->vocab_size();
    if (prompt.empty()) fail(Status::invalid_argument, "empty prompt");
    for (size_t i = 0; i < prompt.size(); ++i)
        if (prompt[i] < 0 || prompt[i] >= V)
            fail(Status::invalid_argument, "prompt token id " + std::to_string(prompt[i]) + " at index " +
                                               std::to_string(i) + " is out of range [0, " + std::to_string(V) + ")");
    const int64_t pos = s.seq->pos(), cap = s.seq->capacity();
    if (pos + (int64_t)prompt.size() > cap)
        fail(Status::invalid_argument, "prompt of " + std::to_string(prompt.size()) +
                                           " tokens does not fit the session context of " + std::to_string(cap) +
                                           " tokens (" + std::to_string(cap - pos) + " free)");
    s.logits.resize(V);
    s.eval(prompt.data(), (int)prompt.size(), s.logits.data());
    q.r->n_prompt = (int32_t)prompt.size();

    std::optional<StreamDecoder> dec;
    if (m.tok) dec.emplace(*m.tok, q.p.skip_special);
    StopFilter filter(stops);
    vkc_stop_reason reason = VKC_STOP_NONE;
    // Greedy sampling runs chains of decode steps (Sequence::decode_greedy: picks on the GPU, one
    // submission per chain): `ahead` holds a chain's picks not yet taken, the first `evaluated` of them
    // already evaluated by it. Tokens are taken, stopped on and streamed exactly as one at a time; what a
    // chain evaluated past a stop is truncated away at the end.
    const bool chains = q.sampler->s.greedy_argmax();
    std::vector<int32_t> ahead;
    size_t next_ahead = 0;
    int evaluated = 0;
    for (int32_t n = 0;;) {
        if (q.p.max_tokens > 0 && n >= q.p.max_tokens) {
            reason = VKC_STOP_MAX_TOKENS;
            break;
        }
        const int32_t id = next_ahead < ahead.size()
                               ? ahead[next_ahead++]
                               : q.sampler->s.sample(s.logits.data(), V, s.tokens.data(), (int)s.tokens.size());
        if (id < 0) fail(Status::invalid_argument, "sampler: every logit is -inf or NaN"); // a chain's no-pick
        q.r->n_generated = ++n;
        if (q.p.stop_on_eos && std::find(m.eos_ids.begin(), m.eos_ids.end(), id) != m.eos_ids.end()) {
            reason = VKC_STOP_EOS;
            break;
        }
        // Ids past the tokenizer's vocabulary (a model's padded vocab) contribute no text.
        bool hit = false;
        std::string text;
        if (dec && id < m.tok->vocab_size()) text = filter.push(dec->push(id), &hit);
        const bool go_on = q.on_token ? q.on_token(text.c_str(), id, q.user) : true;
        if (s.seq->pos() - evaluated >= s.seq->capacity()) { // the token cannot be appended
            reason = VKC_STOP_CONTEXT;
            break;
        }
        if (evaluated > 0) {
            --evaluated; // the chain evaluated it
        } else {
            // a chain over the tokens still to come (at most the ones max_tokens lets through)
            int k = chains ? std::min({16, s.seq->max_greedy_steps(), s.seq->capacity() - s.seq->pos()}) : 0;
            if (q.p.max_tokens > 0) k = std::min(k, q.p.max_tokens - n);
            if (k >= 2) {
                ahead.assign(size_t(k), -1);
                next_ahead = 0;
                const int kept = s.eval_greedy(id, k, ahead.data());
                ahead.resize(size_t(kept)); // a no-pick ends the chain at its -1
                evaluated = kept - 1;
            } else {
                s.eval(&id, 1, s.logits.data());
            }
        }
        if (hit) {
            reason = VKC_STOP_STRING;
            break;
        }
        if (!go_on) {
            reason = VKC_STOP_CALLBACK;
            break;
        }
    }
    if (evaluated > 0) { // chain steps past the stop: the session holds what one-at-a-time would
        const int keep = s.seq->pos() - evaluated;
        s.seq->truncate(keep);
        s.tokens.resize(size_t(keep));
    }
    // Release what is still held (an unfinished UTF-8 tail, a partial stop-string prefix) unless the
    // text ended in a stop string or the caller asked to stop.
    if (dec && reason != VKC_STOP_STRING && reason != VKC_STOP_CALLBACK) {
        bool hit = false;
        std::string rest = filter.push(dec->flush(), &hit);
        if (!hit) rest += filter.flush();
        if (!rest.empty() && q.on_token) q.on_token(rest.c_str(), -1, q.user);
    }
    q.r->stop_reason = reason;
}

} // namespace

extern "C" {

vkc_generate_params vkc_generate_default_params(void) {
    vkc_generate_params p;
    std::memset(&p, 0, sizeof p);
    p.max_tokens = 256;
    p.stop = nullptr;
    p.n_stop = 0;
    p.stop_on_eos = true;
    p.add_special = true;
    p.skip_special = true;
    return p;
}

vkc_status vkc_generate(vkc_session* session, vkc_sampler* sampler, const char* prompt,
                        const vkc_generate_params* params, vkc_token_fn on_token, void* user,
                        vkc_generate_result* result) {
    vkc_generate_result r{0, 0, VKC_STOP_NONE};
    vkc_status st = guard([&] {
        need(session, "session");
        need(sampler, "sampler");
        need(prompt, "prompt");
        const vkc_generate_params p = params_or_default(params);
        const Tokenizer& tok = tokenizer_of(*session->m);
        const size_t n = std::strlen(prompt);
        if (n == 0) fail(Status::invalid_argument, "empty prompt");
        const size_t bad = utf8_invalid_offset(prompt, n);
        if (bad != std::string::npos)
            fail(Status::invalid_argument, "prompt is not valid UTF-8 (byte offset " + std::to_string(bad) + ")");
        std::vector<std::string> stops = stop_strings(p, *session->m);
        std::vector<int32_t> ids = tok.encode(std::string(prompt, n), p.add_special && session->seq->pos() == 0);
        generate(Request{session, sampler, p, on_token, user, &r}, ids, stops);
    });
    if (result) *result = r;
    return st;
}

vkc_status vkc_generate_ids(vkc_session* session, vkc_sampler* sampler, const int32_t* prompt, int32_t n_prompt,
                            const vkc_generate_params* params, vkc_token_fn on_token, void* user,
                            vkc_generate_result* result) {
    vkc_generate_result r{0, 0, VKC_STOP_NONE};
    vkc_status st = guard([&] {
        need(session, "session");
        need(sampler, "sampler");
        if (n_prompt < 0) fail(Status::invalid_argument, "n_prompt must be >= 0");
        if (n_prompt > 0) need(prompt, "prompt");
        const vkc_generate_params p = params_or_default(params);
        std::vector<std::string> stops = stop_strings(p, *session->m);
        std::vector<int32_t> ids(prompt, prompt + n_prompt);
        generate(Request{session, sampler, p, on_token, user, &r}, ids, stops);
    });
    if (result) *result = r;
    return st;
}

} // extern "C"
