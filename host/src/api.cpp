// C API: status/errors, model, tokenizer, sessions, session state, sampler (vkconvgpt.h).
// Generation is in generate.cpp.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <type_traits>

#include "host/src/api_internal.h"
#include "host/src/stop_filter.h"

using namespace vkc;
using namespace vkc::api;

namespace vkc::api {

namespace {
thread_local std::string t_error;
thread_local const char* t_error_fallback = nullptr; // when copying the message itself failed
} // namespace

void set_error(const std::string& m) noexcept {
    try {
        t_error = m;
        t_error_fallback = nullptr;
    } catch (...) {
        t_error_fallback = "out of host memory (while recording an error message)";
    }
}

void clear_error() noexcept {
    t_error.clear();
    t_error_fallback = nullptr;
}

const Tokenizer& tokenizer_of(const ModelState& m) {
    if (!m.tok)
        api_fail(VKC_NO_TOKENIZER, "model has no tokenizer (no tokenizer.json or tokenizer.model in '" + m.dir + "')");
    return *m.tok;
}

} // namespace vkc::api

namespace {

bool is_file(const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_dir(const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Copies s plus a NUL into out[cap]; *n_out = s.size(). BUFFER_TOO_SMALL when it does not fit.
void put_string(const std::string& s, char* out, int32_t cap, int32_t* n_out) {
    need(n_out, "n_out");
    if (s.size() > size_t(INT32_MAX) - 1) fail(Status::unsupported, "text longer than 2 GiB");
    *n_out = (int32_t)s.size();
    if (cap < 0 || (cap > 0 && !out)) fail(Status::invalid_argument, "out is NULL or cap negative");
    if ((size_t)cap < s.size() + 1)
        api_fail(VKC_BUFFER_TOO_SMALL, "output buffer of " + std::to_string(cap) + " bytes is too small for " +
                                           std::to_string(s.size() + 1) + " bytes (text + NUL)");
    std::memcpy(out, s.data(), s.size());
    out[s.size()] = '\0';
}

void check_vocab_ids(const ModelState& m, const int32_t* ids, int32_t n) {
    const int v = m.model->vocab_size();
    for (int32_t i = 0; i < n; ++i)
        if (ids[i] < 0 || ids[i] >= v)
            fail(Status::invalid_argument, "token id " + std::to_string(ids[i]) + " at index " + std::to_string(i) +
                                               " is out of range [0, " + std::to_string(v) + ")");
}

// C session-state header: precedes the token history and the model-level state (Sequence::save_state).
constexpr char kApiStateMagic[8] = {'V', 'K', 'C', 'S', 'E', 'S', 'S', '1'};
struct ApiStateHeader {
    char magic[8];
    uint64_t n_tokens;
    uint64_t model_bytes;
};
static_assert(sizeof(ApiStateHeader) == 24, "ApiStateHeader layout");

std::vector<uint8_t> save_session(vkc_session* s) {
    std::vector<uint8_t> out(sizeof(ApiStateHeader) + 4 * s->tokens.size());
    s->seq->save_state(out);
    ApiStateHeader h{};
    std::memcpy(h.magic, kApiStateMagic, 8);
    h.n_tokens = s->tokens.size();
    h.model_bytes = out.size() - sizeof h - 4 * s->tokens.size();
    std::memcpy(out.data(), &h, sizeof h);
    if (!s->tokens.empty()) std::memcpy(out.data() + sizeof h, s->tokens.data(), 4 * s->tokens.size());
    return out;
}

void load_session(vkc_session* s, const uint8_t* data, size_t size) {
    auto bad = [](const std::string& m) { fail(Status::invalid_argument, "session state: " + m); };
    ApiStateHeader h;
    if (size < sizeof h) bad("buffer of " + std::to_string(size) + " bytes is too small for a header");
    std::memcpy(&h, data, sizeof h);
    if (std::memcmp(h.magic, kApiStateMagic, 8) != 0) bad("not a vkconvgpt session state (bad magic)");
    if (h.n_tokens > (uint64_t)s->seq->capacity() || size < sizeof h + 4 * h.n_tokens ||
        size - sizeof h - 4 * h.n_tokens != h.model_bytes)
        bad("buffer of " + std::to_string(size) + " bytes does not match its header (truncated or corrupt)");
    std::vector<int32_t> tokens(h.n_tokens);
    if (h.n_tokens) std::memcpy(tokens.data(), data + sizeof h, 4 * h.n_tokens);
    check_vocab_ids(*s->m, tokens.data(), (int32_t)tokens.size());
    const uint8_t* blob = data + sizeof h + 4 * h.n_tokens;
    size_t used = s->seq->load_state(blob, h.model_bytes); // validates model, context and layout
    if (used != h.model_bytes || s->seq->pos() != (int)h.n_tokens) {
        s->seq->reset();
        s->tokens.clear();
        bad("corrupt state (position and token history disagree); the session was reset");
    }
    s->tokens = std::move(tokens);
}

} // namespace

void vkc_session::eval(const int32_t* ids, int n, float* logits_last) {
    if (n <= 0) fail(Status::invalid_argument, "eval of an empty token list");
    if ((int64_t)seq->pos() + n > seq->capacity())
        fail(Status::invalid_argument, "sequence of " + std::to_string(int64_t(seq->pos()) + n) +
                                           " tokens exceeds the session context of " +
                                           std::to_string(seq->capacity()) + " tokens");
    tokens.reserve(tokens.size() + n);
    if (n == 1)
        seq->decode(ids[0], logits_last);
    else
        seq->prefill(ids, n, Logits::last, logits_last);
    tokens.insert(tokens.end(), ids, ids + n);
}

int vkc_session::eval_greedy(int32_t id, int n, int32_t* out) {
    tokens.reserve(tokens.size() + (n > 0 ? n : 0));
    const int kept = seq->decode_greedy(id, n, out); // validates id, n and the room
    tokens.push_back(id);
    for (int i = 0; i + 1 < kept; ++i) tokens.push_back(out[i]);
    return kept;
}

extern "C" {

// ---- status ---------------------------------------------------------------------------------------

const char* vkc_status_str(vkc_status status) {
    std::underlying_type_t<vkc_status> s; // any int the caller passes, without an out-of-range enum load (UB)
    std::memcpy(&s, &status, sizeof s);
    switch (s) {
    case VKC_NO_TOKENIZER: return "no_tokenizer";
    case VKC_BUFFER_TOO_SMALL: return "buffer_too_small";
    default:
        if ((int)s >= 0 && (int)s <= (int)Status::internal) return status_name(static_cast<Status>(s));
        return "unknown_status";
    }
}

const char* vkc_last_error(void) { return t_error_fallback ? t_error_fallback : t_error.c_str(); }

// ---- model ----------------------------------------------------------------------------------------

vkc_model_params vkc_model_default_params(void) {
    vkc_model_params p;
    std::memset(&p, 0, sizeof p);
    p.device_index = -1;
    p.precision = VKC_PRECISION_F16;
    p.max_batch = 256;
    p.progress = nullptr;
    p.progress_user = nullptr;
    p.pipeline_cache_path = nullptr;
    p.validation = false;
    return p;
}

vkc_status vkc_model_load(const char* dir, const vkc_model_params* params, vkc_model** out) {
    if (out) *out = nullptr;
    return guard([&] {
        need(out, "out");
        need(dir, "dir");
        const vkc_model_params p = params ? *params : vkc_model_default_params();
        const std::string d = dir;
        if (!is_dir(d)) fail(Status::io_error, "model directory '" + d + "' does not exist");
        static const WeightType kTypes[] = {WeightType::f16, WeightType::f32, WeightType::q8_0, WeightType::q4_0};
        // The caller's bits, read without loading an out-of-range enum value (UB in C++; UBSan -fsanitize=enum).
        std::underlying_type_t<vkc_precision> precision;
        std::memcpy(&precision, &p.precision, sizeof precision);
        if ((unsigned)precision >= 4)
            fail(Status::invalid_argument, "precision must be VKC_PRECISION_F16, _F32, _Q8_0 or _Q4_0, not " +
                                               std::to_string((long long)precision));
        ModelOptions o;
        o.weight_type = kTypes[precision];
        o.max_batch = p.max_batch;
        o.device_index = p.device_index;
        o.validation = p.validation;
        o.pipeline_cache_path = p.pipeline_cache_path ? p.pipeline_cache_path : "default";
        if (p.progress) {
            vkc_progress_fn fn = p.progress;
            void* user = p.progress_user;
            o.progress = [fn, user](float f) { return fn(f, user); };
        }
        auto st = std::make_shared<ModelState>();
        st->dir = d;
        st->model = Model::load(d, o);
        // A tokenizer is optional; one that is present but broken fails the load.
        if (is_file(d + "/tokenizer.json") || is_file(d + "/tokenizer.model")) st->tok = Tokenizer::load(d);
        const ModelConfig& c = st->model->config();
        const bool v1 = c.arch == Arch::v1;
        st->arch = v1 ? "convgpt" : "convgpt_v2";
        st->device = st->model->context().device_name();
        const int cfg_bos = v1 ? c.v1.bos_token_id : c.v2.bos_token_id;
        const int cfg_eos = v1 ? c.v1.eos_token_id : c.v2.eos_token_id;
        st->bos = st->tok && st->tok->special().bos >= 0 ? st->tok->special().bos : cfg_bos;
        st->eos = st->tok && st->tok->special().eos >= 0 ? st->tok->special().eos : cfg_eos;
        for (int e : {st->eos, cfg_eos})
            if (e >= 0 && std::find(st->eos_ids.begin(), st->eos_ids.end(), e) == st->eos_ids.end())
                st->eos_ids.push_back(e);
        // As new_sequence(0) chooses, except v2 reports its hard limit (the grid) rather than the
        // 65536 default cap.
        st->max_ctx = v1 ? (c.v1.max_position_embeddings > 0 ? c.v1.max_position_embeddings : 4096)
                         : c.v2.grid_size * c.v2.grid_size;
        st->ctx_limit = v1 ? std::max(c.v1.max_position_embeddings, 0) : st->max_ctx;
        *out = new vkc_model{std::move(st)};
    });
}

void vkc_model_free(vkc_model* model) { delete model; }

int32_t vkc_model_vocab_size(const vkc_model* m) { return m ? m->s->model->vocab_size() : -1; }
int32_t vkc_model_bos(const vkc_model* m) { return m ? m->s->bos : -1; }
int32_t vkc_model_eos(const vkc_model* m) { return m ? m->s->eos : -1; }
int32_t vkc_model_max_context(const vkc_model* m) { return m ? m->s->max_ctx : -1; }
const char* vkc_model_arch(const vkc_model* m) { return m ? m->s->arch.c_str() : nullptr; }
const char* vkc_model_device_name(const vkc_model* m) { return m ? m->s->device.c_str() : nullptr; }
bool vkc_model_has_tokenizer(const vkc_model* m) { return m && m->s->tok; }
const char* vkc_model_chat_template(const vkc_model* m) {
    if (!m) return nullptr;
    return m->s->tok ? m->s->tok->chat_template().c_str() : "";
}

// ---- tokenizer ------------------------------------------------------------------------------------

vkc_status vkc_tokenize(const vkc_model* model, const char* text, int32_t len, bool add_special, int32_t* out,
                        int32_t cap, int32_t* n_out) {
    return guard([&] {
        need(model, "model");
        need(text, "text");
        need(n_out, "n_out");
        *n_out = 0;
        const Tokenizer& tok = tokenizer_of(*model->s);
        const size_t n = len < 0 ? std::strlen(text) : (size_t)len;
        const size_t bad = utf8_invalid_offset(text, n);
        if (bad != std::string::npos)
            fail(Status::invalid_argument, "text is not valid UTF-8 (byte offset " + std::to_string(bad) + ")");
        std::vector<int32_t> ids = tok.encode(std::string(text, n), add_special);
        *n_out = (int32_t)ids.size();
        if (cap < 0 || (cap > 0 && !out)) fail(Status::invalid_argument, "out is NULL or cap negative");
        if ((size_t)cap < ids.size())
            api_fail(VKC_BUFFER_TOO_SMALL, "output buffer of " + std::to_string(cap) + " ids is too small for " +
                                               std::to_string(ids.size()) + " tokens");
        std::copy(ids.begin(), ids.end(), out);
    });
}

vkc_status vkc_detokenize(const vkc_model* model, const int32_t* ids, int32_t n, bool skip_special, char* out,
                          int32_t cap, int32_t* n_out) {
    return guard([&] {
        need(model, "model");
        need(n_out, "n_out");
        *n_out = 0;
        if (n < 0 || (n > 0 && !ids)) fail(Status::invalid_argument, "ids is NULL or n negative");
        const Tokenizer& tok = tokenizer_of(*model->s);
        for (int32_t i = 0; i < n; ++i)
            if (ids[i] < 0 || ids[i] >= tok.vocab_size())
                fail(Status::invalid_argument, "token id " + std::to_string(ids[i]) + " at index " + std::to_string(i) +
                                                   " is out of the tokenizer's range [0, " +
                                                   std::to_string(tok.vocab_size()) + ")");
        put_string(tok.decode(std::vector<int32_t>(ids, ids + n), skip_special), out, cap, n_out);
    });
}

vkc_status vkc_token_to_piece(const vkc_model* model, int32_t id, char* out, int32_t cap, int32_t* n_out) {
    return guard([&] {
        need(model, "model");
        need(n_out, "n_out");
        *n_out = 0;
        const Tokenizer& tok = tokenizer_of(*model->s);
        if (id < 0 || id >= tok.vocab_size())
            fail(Status::invalid_argument, "token id " + std::to_string(id) + " is out of the tokenizer's range [0, " +
                                               std::to_string(tok.vocab_size()) + ")");
        put_string(tok.token_bytes(id), out, cap, n_out);
    });
}

// ---- sessions -------------------------------------------------------------------------------------

vkc_session_params vkc_session_default_params(void) {
    vkc_session_params p;
    p.n_ctx = 0;
    return p;
}

vkc_status vkc_session_create(vkc_model* model, const vkc_session_params* params, vkc_session** out) {
    if (out) *out = nullptr;
    return guard([&] {
        need(out, "out");
        need(model, "model");
        const int n_ctx = params ? params->n_ctx : 0;
        if (model->s->ctx_limit > 0 && n_ctx > model->s->ctx_limit)
            fail(Status::invalid_argument, "n_ctx " + std::to_string(n_ctx) + " exceeds the model's maximum context of " +
                                               std::to_string(model->s->ctx_limit) + " tokens");
        auto s = std::make_unique<vkc_session>();
        s->m = model->s;
        s->seq = model->s->model->new_sequence(n_ctx);
        s->logits.resize(model->s->model->vocab_size());
        *out = s.release();
    });
}

void vkc_session_free(vkc_session* session) { delete session; }

vkc_status vkc_session_eval(vkc_session* session, const int32_t* ids, int32_t n, float* logits_last) {
    return guard([&] {
        need(session, "session");
        need(ids, "ids");
        session->eval(ids, n, logits_last);
    });
}

vkc_status vkc_session_decode_greedy(vkc_session* session, int32_t id, int32_t n, int32_t* out) {
    return guard([&] {
        need(session, "session");
        need(out, "out");
        session->eval_greedy(id, n, out);
    });
}

int32_t vkc_session_max_greedy_steps(const vkc_session* session) {
    return session ? session->seq->max_greedy_steps() : -1;
}

vkc_status vkc_session_eval_all(vkc_session* session, const int32_t* ids, int32_t n, float* logits_all) {
    return guard([&] {
        need(session, "session");
        need(ids, "ids");
        need(logits_all, "logits_all");
        if (n <= 0) fail(Status::invalid_argument, "eval of an empty token list");
        vkc_session& s = *session;
        if ((int64_t)s.seq->pos() + n > s.seq->capacity())
            fail(Status::invalid_argument, "sequence of " + std::to_string(int64_t(s.seq->pos()) + n) +
                                               " tokens exceeds the session context of " +
                                               std::to_string(s.seq->capacity()) + " tokens");
        s.tokens.reserve(s.tokens.size() + n);
        s.seq->prefill(ids, n, Logits::all, logits_all);
        s.tokens.insert(s.tokens.end(), ids, ids + n);
    });
}

int32_t vkc_session_pos(const vkc_session* s) { return s ? s->seq->pos() : -1; }
int32_t vkc_session_n_ctx(const vkc_session* s) { return s ? s->seq->capacity() : -1; }

vkc_status vkc_session_reset(vkc_session* session) {
    return guard([&] {
        need(session, "session");
        session->seq->reset();
        session->tokens.clear();
    });
}

vkc_status vkc_session_tokens(const vkc_session* session, int32_t* out, int32_t cap, int32_t* n_out) {
    return guard([&] {
        need(session, "session");
        need(n_out, "n_out");
        const auto& t = session->tokens;
        *n_out = (int32_t)t.size();
        if (cap < 0 || (cap > 0 && !out)) fail(Status::invalid_argument, "out is NULL or cap negative");
        if ((size_t)cap < t.size())
            api_fail(VKC_BUFFER_TOO_SMALL, "output buffer of " + std::to_string(cap) + " ids is too small for " +
                                               std::to_string(t.size()) + " tokens");
        std::copy(t.begin(), t.end(), out);
    });
}

// ---- session state --------------------------------------------------------------------------------

vkc_status vkc_session_state_size(const vkc_session* session, size_t* size) {
    return guard([&] {
        need(session, "session");
        need(size, "size");
        *size = sizeof(ApiStateHeader) + 4 * session->tokens.size() + session->seq->state_size();
    });
}

vkc_status vkc_session_state_save(vkc_session* session, void* buf, size_t cap, size_t* written) {
    if (written) *written = 0;
    return guard([&] {
        need(session, "session");
        need(written, "written");
        const size_t size = sizeof(ApiStateHeader) + 4 * session->tokens.size() + session->seq->state_size();
        if (cap < size) {
            *written = size;
            api_fail(VKC_BUFFER_TOO_SMALL, "state buffer of " + std::to_string(cap) + " bytes is too small for " +
                                               std::to_string(size) + " bytes");
        }
        need(buf, "buf");
        std::vector<uint8_t> blob = save_session(session);
        std::memcpy(buf, blob.data(), blob.size());
        *written = blob.size();
    });
}

vkc_status vkc_session_state_load(vkc_session* session, const void* buf, size_t size) {
    return guard([&] {
        need(session, "session");
        need(buf, "buf");
        load_session(session, static_cast<const uint8_t*>(buf), size);
    });
}

vkc_status vkc_session_state_save_file(vkc_session* session, const char* path) {
    return guard([&] {
        need(session, "session");
        need(path, "path");
        std::vector<uint8_t> blob = save_session(session);
        // Write a temporary file and rename it, so a failed save never leaves a truncated state behind.
        const std::string tmp = std::string(path) + ".tmp";
        FILE* f = std::fopen(tmp.c_str(), "wb");
        if (!f) fail(Status::io_error, "cannot open '" + tmp + "' for writing: " + std::strerror(errno));
        const bool ok = std::fwrite(blob.data(), 1, blob.size(), f) == blob.size();
        const bool closed = std::fclose(f) == 0;
        if (!ok || !closed || std::rename(tmp.c_str(), path) != 0) {
            std::remove(tmp.c_str());
            fail(Status::io_error, "cannot write session state to '" + std::string(path) + "'");
        }
    });
}

vkc_status vkc_session_state_load_file(vkc_session* session, const char* path) {
    return guard([&] {
        need(session, "session");
        need(path, "path");
        std::ifstream f(path, std::ios::binary);
        if (!f) fail(Status::io_error, "cannot open session state '" + std::string(path) + "'");
        std::vector<uint8_t> blob((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        if (f.bad()) fail(Status::io_error, "cannot read session state '" + std::string(path) + "'");
        load_session(session, blob.data(), blob.size());
    });
}

// ---- sampler --------------------------------------------------------------------------------------

vkc_sampler_params vkc_sampler_default_params(void) {
    const SamplerParams d;
    vkc_sampler_params p;
    p.temperature = d.temperature;
    p.top_k = d.top_k;
    p.top_p = d.top_p;
    p.min_p = d.min_p;
    p.repetition_penalty = d.repetition_penalty;
    p.presence_penalty = d.presence_penalty;
    p.frequency_penalty = d.frequency_penalty;
    p.penalty_last_n = d.penalty_last_n;
    p.seed = d.seed;
    return p;
}

vkc_status vkc_sampler_create(const vkc_sampler_params* params, vkc_sampler** out) {
    if (out) *out = nullptr;
    return guard([&] {
        need(out, "out");
        const vkc_sampler_params p = params ? *params : vkc_sampler_default_params();
        SamplerParams s;
        s.temperature = p.temperature;
        s.top_k = p.top_k;
        s.top_p = p.top_p;
        s.min_p = p.min_p;
        s.repetition_penalty = p.repetition_penalty;
        s.presence_penalty = p.presence_penalty;
        s.frequency_penalty = p.frequency_penalty;
        s.penalty_last_n = p.penalty_last_n;
        s.seed = p.seed;
        *out = new vkc_sampler(s);
    });
}

void vkc_sampler_free(vkc_sampler* sampler) { delete sampler; }

vkc_status vkc_sampler_set_seed(vkc_sampler* sampler, uint64_t seed) {
    return guard([&] {
        need(sampler, "sampler");
        sampler->s.seed(seed);
    });
}

bool vkc_sampler_is_greedy(const vkc_sampler* sampler) { return sampler && sampler->s.greedy_argmax(); }

int32_t vkc_sampler_sample(vkc_sampler* sampler, const float* logits, int32_t n_vocab, const int32_t* history,
                           int32_t n_history) {
    int32_t id = -1;
    vkc_status st = guard([&] {
        need(sampler, "sampler");
        id = sampler->s.sample(logits, n_vocab, history, n_history);
    });
    return st == VKC_OK ? id : -(int32_t)st;
}

} // extern "C"
