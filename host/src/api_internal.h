// Internals of the C API: the structs behind the opaque handles and the exception-to-status guard.
// Shared by api.cpp (model, tokenizer, sessions, state, sampler) and generate.cpp.
#pragma once
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "host/include/vkconvgpt.h"
#include "host/src/sampler.h"
#include "host/text/tokenizer.h"
#include "model/model.h"
#include "runtime/status.h"

namespace vkc::api {

// Everything a loaded model owns. Sessions hold a shared_ptr, so the model outlives vkc_model_free
// while any of its sessions exists (declaration order: tokenizer and model are destroyed last).
struct ModelState {
    std::unique_ptr<Model> model;
    std::unique_ptr<Tokenizer> tok; // null: the directory has no tokenizer
    std::string dir, arch, device;
    int32_t bos = -1, eos = -1;
    int32_t max_ctx = 0;   // reported by vkc_model_max_context
    int32_t ctx_limit = 0; // largest n_ctx accepted; 0: none (v1 without max_position_embeddings)
    std::vector<int32_t> eos_ids; // ids that end generation: the tokenizer's and config.json's eos
};

// A status that vkc::Status has no value for (no tokenizer, buffer too small).
struct ApiError {
    vkc_status status;
    std::string message;
};
[[noreturn]] inline void api_fail(vkc_status s, const std::string& m) { throw ApiError{s, m}; }

void set_error(const std::string& m) noexcept;
void clear_error() noexcept;

// Runs f, mapping every exception to a status plus the thread's last-error text. Nothing escapes.
template <class F>
vkc_status guard(F&& f) noexcept {
    try {
        f();
        clear_error();
        return VKC_OK;
    } catch (const ApiError& e) {
        set_error(e.message);
        return e.status;
    } catch (const Error& e) {
        set_error(e.what());
        return static_cast<vkc_status>(e.status());
    } catch (const std::bad_alloc&) {
        set_error("out of host memory");
        return VKC_OUT_OF_MEMORY;
    } catch (const std::exception& e) {
        set_error(std::string("internal error: ") + e.what());
        return VKC_INTERNAL;
    } catch (...) {
        set_error("internal error: unknown exception");
        return VKC_INTERNAL;
    }
}

inline void need(const void* p, const char* what) {
    if (!p) fail(Status::invalid_argument, std::string(what) + " is NULL");
}

const Tokenizer& tokenizer_of(const ModelState& m); // or ApiError(VKC_NO_TOKENIZER)

} // namespace vkc::api

struct vkc_model {
    std::shared_ptr<vkc::api::ModelState> s;
};

struct vkc_session {
    std::shared_ptr<vkc::api::ModelState> m;   // keeps the model alive; destroyed after seq
    std::unique_ptr<vkc::Sequence> seq;
    std::vector<int32_t> tokens;               // ids held by seq: [seq->pos()]
    std::vector<float> logits;                 // [vocab] scratch for generation

    // Appends ids (prefill for n > 1, decode for n == 1); logits: [vocab] of the last token or null.
    void eval(const int32_t* ids, int n, float* logits_last);
    // Sequence::decode_greedy: appends id and out[0 .. kept-2]; returns kept.
    int eval_greedy(int32_t id, int n, int32_t* out);
};

struct vkc_sampler {
    explicit vkc_sampler(const vkc::SamplerParams& p) : s(p) {}
    vkc::Sampler s;
};
