// C API: vkc_decode_batch / vkc_decode_batch_argmax (one decode step for several sessions) and
// vkc_session_truncate.
// vkc_decode_batch is the server's contract with the model layer: Model::decode_batch runs the step in
// shared batched kernels where the architecture has them (v1), else each session's replayed decode.
#include <cstring>
#include <unordered_set>
#include <vector>

#include "host/src/api_internal.h"

using namespace vkc;
using namespace vkc::api;

namespace {

// vkc_decode_batch and vkc_decode_batch_argmax (greedy may be null).
vkc_status decode_batch(vkc_session* const* sessions, const int32_t* ids, int32_t n, float* logits, int32_t* greedy) {
    return guard([&] {
        if (n <= 0) fail(Status::invalid_argument, "decode batch of " + std::to_string(n) + " sessions");
        need(sessions, "sessions");
        need(ids, "ids");
        const ModelState* model = nullptr;
        std::unordered_set<const vkc_session*> seen;
        for (int32_t i = 0; i < n; ++i) {
            const vkc_session* s = sessions[i];
            if (!s) fail(Status::invalid_argument, "session " + std::to_string(i) + " is NULL");
            if (!seen.insert(s).second)
                fail(Status::invalid_argument, "session " + std::to_string(i) + " appears twice in the batch");
            if (!model) model = s->m.get();
            if (s->m.get() != model)
                fail(Status::invalid_argument, "session " + std::to_string(i) + " belongs to another model");
            const int v = model->model->vocab_size();
            if (ids[i] < 0 || ids[i] >= v)
                fail(Status::invalid_argument, "token id " + std::to_string(ids[i]) + " of session " +
                                                   std::to_string(i) + " is out of range [0, " + std::to_string(v) + ")");
            if (s->seq->pos() >= s->seq->capacity())
                fail(Status::invalid_argument, "session " + std::to_string(i) + " is full (context of " +
                                                   std::to_string(s->seq->capacity()) + " tokens)");
        }
        // One step in shared batched kernels where the model has them (else one decode per session).
        std::vector<Sequence*> seqs(n);
        for (int32_t i = 0; i < n; ++i) {
            sessions[i]->tokens.reserve(sessions[i]->tokens.size() + 1);
            seqs[i] = sessions[i]->seq.get();
        }
        model->model->decode_batch(seqs.data(), ids, n, logits, greedy);
        for (int32_t i = 0; i < n; ++i) sessions[i]->tokens.push_back(ids[i]);
    });
}

} // namespace

extern "C" {

vkc_status vkc_decode_batch(vkc_session* const* sessions, const int32_t* ids, int32_t n, float* logits) {
    return decode_batch(sessions, ids, n, logits, nullptr);
}

vkc_status vkc_decode_batch_argmax(vkc_session* const* sessions, const int32_t* ids, int32_t n, float* logits,
                                   int32_t* argmax) {
    if (!argmax) return guard([] { fail(Status::invalid_argument, "argmax is NULL"); });
    return decode_batch(sessions, ids, n, logits, argmax);
}

vkc_status vkc_session_truncate(vkc_session* session, int32_t n_keep) {
    return guard([&] {
        need(session, "session");
        if (n_keep < 0 || n_keep > session->seq->pos())
            fail(Status::invalid_argument, "truncate to " + std::to_string(n_keep) + " tokens: the session holds " +
                                               std::to_string(session->seq->pos()));
        session->seq->truncate(n_keep);
        session->tokens.resize((size_t)n_keep);
    });
}

} // extern "C"

extern "C" int64_t vkc_model_weight_bytes(const vkc_model* model) {
    if (!model || !model->s || !model->s->model) return -1;
    return (int64_t)model->s->model->weight_bytes();
}
