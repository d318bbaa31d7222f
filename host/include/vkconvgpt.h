/* vkconvgpt.h - the public C API of vkconvgpt (C99; usable from C++, JNI, FFI).
 *
 * Load a ConvGPT checkpoint directory (config.json + safetensors, optional tokenizer.json or
 * tokenizer.model), create sessions (each with its own GPU-resident decode state), evaluate tokens,
 * sample, generate streaming text, and save/restore a session's state.
 *
 * Conventions
 *  - Every function that can fail returns a vkc_status; VKC_OK (0) is success. On failure the calling
 *    thread's vkc_last_error() names the problem (e.g. "prompt of 300 tokens does not fit ...").
 *    Functions returning a status clear the last error on success.
 *  - No C++ exception ever crosses this boundary; allocation failures become VKC_OUT_OF_MEMORY.
 *  - Strings are UTF-8. Lengths are in bytes; a negative text length means "NUL-terminated".
 *  - Output buffers take a capacity; when it is too small the call returns VKC_BUFFER_TOO_SMALL and
 *    still stores the required count in *n_out, so callers may query with (NULL, 0) first.
 *  - Handles are freed with their _free function; _free(NULL) is a no-op.
 *
 * Thread safety
 *  - There is no global mutable state except the thread-local last-error string.
 *  - A vkc_model may be shared by sessions used on different threads: GPU submissions of all sessions
 *    of one model are serialized by the model's mutex. Model queries and tokenizer calls are
 *    read-only and may run concurrently.
 *  - One vkc_session must not be used from two threads at the same time (no internal locking).
 *  - A vkc_sampler is not thread-safe (it owns a random generator and scratch buffers); use one per
 *    thread or per session.
 *  - Callbacks (load progress, on_token) run synchronously on the thread that called the API
 *    function; they receive the user pointer given with them. A callback must not free the handles
 *    the running call uses.
 *  - Lifetime: a session keeps its model alive; vkc_model_free may be called before the sessions are
 *    freed (the GPU resources go when the last session is freed). This suits garbage-collected hosts.
 */
#ifndef VKCONVGPT_H
#define VKCONVGPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define VKC_API
#elif defined(__GNUC__)
#define VKC_API __attribute__((visibility("default")))
#else
#define VKC_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define VKC_API_VERSION 1

/* ---- status ---------------------------------------------------------------------------------- */

/* 0..9 mirror vkc::Status (runtime/status.h); the rest exist only at this API. */
typedef enum vkc_status {
    VKC_OK = 0,
    VKC_INVALID_ARGUMENT = 1, /* bad parameter: null pointer, id out of range, prompt too long, ... */
    VKC_INVALID_MODEL = 2,    /* config.json / safetensors / tokenizer content is wrong */
    VKC_IO_ERROR = 3,         /* file missing, unreadable, truncated */
    VKC_UNSUPPORTED = 4,      /* valid input this build or device cannot run */
    VKC_OUT_OF_MEMORY = 5,    /* host or device allocation failed */
    VKC_DEVICE_LOST = 6,      /* the GPU was lost: free and reload the model */
    VKC_VULKAN_ERROR = 7,     /* any other Vulkan failure */
    VKC_CANCELLED = 8,        /* a callback returned false during model loading */
    VKC_INTERNAL = 9,         /* a bug; please report with vkc_last_error() */
    VKC_NO_TOKENIZER = 10,    /* text functions on a model whose directory has no tokenizer */
    VKC_BUFFER_TOO_SMALL = 11 /* output capacity too small; *n_out holds the required count */
} vkc_status;

/* Static name of a status, e.g. "invalid_argument". */
VKC_API const char* vkc_status_str(vkc_status status);
/* Message of the last failed call on this thread ("" when none). Valid until the next API call on
 * this thread. */
VKC_API const char* vkc_last_error(void);

/* ---- model ----------------------------------------------------------------------------------- */

typedef struct vkc_model vkc_model;
typedef struct vkc_session vkc_session;
typedef struct vkc_sampler vkc_sampler;

typedef enum vkc_precision {
    VKC_PRECISION_F16 = 0, /* weights stored as f16 on the GPU (default); activations are f32 */
    VKC_PRECISION_F32 = 1,
    VKC_PRECISION_Q8_0 = 2, /* GGUF Q8_0 blocks (32 int8 + f16 scale), quantized at load unless the model is a GGUF */
    VKC_PRECISION_Q4_0 = 3  /* GGUF Q4_0 blocks (32 4-bit + f16 scale) */
} vkc_precision;

/* Load progress in [0, 1]; return false to cancel (vkc_model_load then returns VKC_CANCELLED). */
typedef bool (*vkc_progress_fn)(float progress, void* user);

typedef struct vkc_model_params {
    int32_t device_index;            /* -1: $VKCONVGPT_DEVICE, else the best GPU */
    vkc_precision precision;
    int32_t max_batch;               /* tokens per prefill chunk (activation capacity); default 256 */
    vkc_progress_fn progress;        /* may be NULL */
    void* progress_user;
    const char* pipeline_cache_path; /* NULL: default (~/.cache/vkconvgpt/pipelines.bin), "": none */
    bool validation;                 /* Khronos validation layer (debugging); also $VKC_VALIDATION=1 */
} vkc_model_params;

VKC_API vkc_model_params vkc_model_default_params(void);
/* dir: checkpoint directory. params may be NULL (defaults). */
VKC_API vkc_status vkc_model_load(const char* dir, const vkc_model_params* params, vkc_model** out);
VKC_API void vkc_model_free(vkc_model* model);

/* Model info. These return -1 / NULL for a NULL model. */
VKC_API int32_t vkc_model_vocab_size(const vkc_model* model);
VKC_API int32_t vkc_model_bos(const vkc_model* model);          /* -1 when none */
VKC_API int32_t vkc_model_eos(const vkc_model* model);          /* -1 when none */
/* Context of a session created with n_ctx <= 0: v1 max_position_embeddings (4096 when config.json has
 * none; larger n_ctx are then allowed), v2 grid_size^2 (at most 65536 by default; the grid is the
 * hard limit). */
VKC_API int32_t vkc_model_max_context(const vkc_model* model);
VKC_API const char* vkc_model_arch(const vkc_model* model);     /* "convgpt" or "convgpt_v2" */
VKC_API const char* vkc_model_device_name(const vkc_model* model);
VKC_API bool vkc_model_has_tokenizer(const vkc_model* model);
/* The tokenizer's chat template (Jinja source), "" when none. */
VKC_API const char* vkc_model_chat_template(const vkc_model* model);

/* ---- tokenizer ------------------------------------------------------------------------------- */

/* text: UTF-8 of len bytes (len < 0: NUL-terminated); invalid UTF-8 -> VKC_INVALID_ARGUMENT naming
 * the byte offset. add_special: bos/eos as the tokenizer's config says. out: cap ids. */
VKC_API vkc_status vkc_tokenize(const vkc_model* model, const char* text, int32_t len, bool add_special,
                                int32_t* out, int32_t cap, int32_t* n_out);
/* Decodes ids to UTF-8 text (NUL-terminated; *n_out excludes the NUL, cap must include it). */
VKC_API vkc_status vkc_detokenize(const vkc_model* model, const int32_t* ids, int32_t n, bool skip_special,
                                  char* out, int32_t cap, int32_t* n_out);
/* The raw bytes one token contributes (may be part of a UTF-8 sequence), NUL-terminated as above. */
VKC_API vkc_status vkc_token_to_piece(const vkc_model* model, int32_t id, char* out, int32_t cap,
                                      int32_t* n_out);

/* ---- sessions -------------------------------------------------------------------------------- */

typedef struct vkc_session_params {
    int32_t n_ctx; /* context length in tokens; <= 0: the model's default (see vkc_model_max_context) */
} vkc_session_params;

VKC_API vkc_session_params vkc_session_default_params(void);
/* Many sessions may exist per model; each allocates its own state (KV cache / histories) on the GPU.
 * params may be NULL. */
VKC_API vkc_status vkc_session_create(vkc_model* model, const vkc_session_params* params, vkc_session** out);
VKC_API void vkc_session_free(vkc_session* session);

/* Appends n tokens at the session's position: n > 1 runs one batched prefill, n == 1 the replayed
 * decode step. logits_last: NULL or [vocab] floats, the logits after the last token. */
VKC_API vkc_status vkc_session_eval(vkc_session* session, const int32_t* ids, int32_t n, float* logits_last);
/* Same, with the logits of every token: logits_all is [n, vocab] floats (row-major). */
VKC_API vkc_status vkc_session_eval_all(vkc_session* session, const int32_t* ids, int32_t n, float* logits_all);
/* n greedy decode steps in ONE submission, with no host round trip between tokens: step 0 evaluates
 * id, each later step the argmax of the previous step's logits, every pick made on the GPU (lowest id
 * on ties, NaN never wins); out[i] (n entries) = step i's argmax. The session then holds id and
 * out[0 .. n-2]; out[n-1] is the next token to feed. A step with no pick (every logit NaN or -inf)
 * ends the chain: out[i ..] = -1 and the steps after it are dropped. 1 <= n <=
 * vkc_session_max_greedy_steps(session) and the session needs room for n tokens. Where a stop (eos, a
 * stop string) falls inside the chain, vkc_session_truncate drops what followed it. */
VKC_API vkc_status vkc_session_decode_greedy(vkc_session* session, int32_t id, int32_t n, int32_t* out);
VKC_API int32_t vkc_session_max_greedy_steps(const vkc_session* session); /* -1 for NULL */
VKC_API int32_t vkc_session_pos(const vkc_session* session);   /* tokens held; -1 for NULL */
VKC_API int32_t vkc_session_n_ctx(const vkc_session* session); /* capacity; -1 for NULL */
VKC_API vkc_status vkc_session_reset(vkc_session* session);    /* back to position 0 */
/* The ids the session holds (its pos tokens), for callers that need the history. */
VKC_API vkc_status vkc_session_tokens(const vkc_session* session, int32_t* out, int32_t cap, int32_t* n_out);

/* Session state: the GPU state, position and token history, so a conversation resumes without
 * re-running its prompt. A state is accepted only by a session of a model with the same
 * configuration and precision and the same n_ctx (else VKC_INVALID_ARGUMENT says what differs). */
VKC_API vkc_status vkc_session_state_size(const vkc_session* session, size_t* size);
VKC_API vkc_status vkc_session_state_save(vkc_session* session, void* buf, size_t cap, size_t* written);
VKC_API vkc_status vkc_session_state_load(vkc_session* session, const void* buf, size_t size);
VKC_API vkc_status vkc_session_state_save_file(vkc_session* session, const char* path);
VKC_API vkc_status vkc_session_state_load_file(vkc_session* session, const char* path);

/* ---- batched decode (servers) ---------------------------------------------------------------- */

/* One decode step for n sessions of the same model: session i appends ids[i] at its position, and
 * logits row i ([n, vocab] row-major floats, may be NULL) receives its logits. Equivalent to calling
 * vkc_session_eval(sessions[i], &ids[i], 1, row i) for each i (so the results equal those of the
 * sessions decoded one at a time, to float rounding). ConvGPT v1 runs up to 8 sessions in one step of
 * shared kernels (each weight read once for all of them); v2, and larger batches, decode the sessions
 * in turn. All arguments are validated before any step runs (NULL or repeated sessions, sessions of
 * different models, ids out of range, a full context -> VKC_INVALID_ARGUMENT, nothing evaluated). If
 * the step fails on the GPU, the sessions' positions are left as before the call where the failure was
 * in a shared step. The sessions must not be in use on other threads. */
VKC_API vkc_status vkc_decode_batch(vkc_session* const* sessions, const int32_t* ids, int32_t n, float* logits);

/* vkc_decode_batch that also gives each row's greedy pick: argmax[i] (n entries, not NULL) receives the
 * id of row i's largest logit (lowest id on ties, NaN never wins; -1 when every logit is NaN or -inf).
 * Where the step runs in shared kernels (v1) the pick is made on the GPU, so with logits NULL a greedy
 * caller reads back n ids per step instead of n x vocab floats. */
VKC_API vkc_status vkc_decode_batch_argmax(vkc_session* const* sessions, const int32_t* ids, int32_t n,
                                           float* logits, int32_t* argmax);

/* Bytes of GPU memory the model's weights occupy (-1 for NULL); a session's state adds about
 * vkc_session_state_size bytes. */
VKC_API int64_t vkc_model_weight_bytes(const vkc_model* model);

/* Keeps the first n_keep tokens of the session (0 <= n_keep <= pos) and drops the rest, so a prompt
 * sharing a prefix with what the session holds evaluates only the new tokens. Exact for v1 and v2
 * (their state is indexed by position and rewritten as positions are refilled; a v2 chunk summary is
 * recomputed when its chunk closes again). */
VKC_API vkc_status vkc_session_truncate(vkc_session* session, int32_t n_keep);

/* ---- sampling -------------------------------------------------------------------------------- */

#define VKC_SEED_RANDOM UINT64_MAX

/* Order: penalties on the logits, then greedy (temperature <= 0) or temperature, top-k, top-p,
 * min-p and a draw from the remaining distribution. */
typedef struct vkc_sampler_params {
    float temperature;        /* <= 0: greedy (argmax, lowest id on ties); default 0.8 */
    int32_t top_k;            /* <= 0: off; default 40 */
    float top_p;              /* (0, 1]; 1: off; default 0.95 */
    float min_p;              /* [0, 1]; keep p >= min_p * p_max; 0: off; default 0.05 */
    float repetition_penalty; /* > 0; HF style: divide positive / multiply negative logits of seen
                                 tokens; 1: off (default) */
    float presence_penalty;   /* OpenAI style: logit -= presence * (count > 0); default 0 */
    float frequency_penalty;  /* OpenAI style: logit -= frequency * count; default 0 */
    int32_t penalty_last_n;   /* window: the last N history ids count; 0: none; -1: all; default 64 */
    uint64_t seed;            /* same seed + same inputs = same outputs; VKC_SEED_RANDOM: random */
} vkc_sampler_params;

VKC_API vkc_sampler_params vkc_sampler_default_params(void);
VKC_API vkc_status vkc_sampler_create(const vkc_sampler_params* params, vkc_sampler** out);
VKC_API void vkc_sampler_free(vkc_sampler* sampler);
/* Re-seeds the random generator (VKC_SEED_RANDOM: random). */
VKC_API vkc_status vkc_sampler_set_seed(vkc_sampler* sampler, uint64_t seed);
/* Picks the next token from logits [n_vocab]; history: the ids so far (for penalties; may be NULL
 * when n_history is 0). Returns the id, or -(vkc_status) (negative) on error. */
/* True when the sampler's pick is the argmax of the raw logits (temperature <= 0 and no penalty changes
 * a logit): the GPU picks of vkc_decode_batch_argmax / vkc_session_decode_greedy are then its picks. */
VKC_API bool vkc_sampler_is_greedy(const vkc_sampler* sampler);
VKC_API int32_t vkc_sampler_sample(vkc_sampler* sampler, const float* logits, int32_t n_vocab,
                                   const int32_t* history, int32_t n_history);

/* ---- generation ------------------------------------------------------------------------------ */

typedef enum vkc_stop_reason {
    VKC_STOP_NONE = 0,       /* not finished (an error occurred) */
    VKC_STOP_MAX_TOKENS = 1, /* max_tokens generated */
    VKC_STOP_EOS = 2,        /* the model produced its end-of-sequence token */
    VKC_STOP_STRING = 3,     /* a stop string appeared in the text */
    VKC_STOP_CALLBACK = 4,   /* on_token returned false */
    VKC_STOP_CONTEXT = 5     /* the session's context is full */
} vkc_stop_reason;

typedef struct vkc_generate_params {
    int32_t max_tokens;      /* <= 0: until another stop; default 256 */
    const char* const* stop; /* n_stop UTF-8 stop strings (non-empty), may be NULL; need a tokenizer */
    int32_t n_stop;
    bool stop_on_eos;        /* default true */
    bool add_special;        /* vkc_generate: tokenize the prompt with bos/eos as the tokenizer's config
                                says, only when the session is at position 0; default true */
    bool skip_special;       /* leave special tokens out of the streamed text; default true */
} vkc_generate_params;

typedef struct vkc_generate_result {
    int32_t n_prompt;    /* prompt tokens evaluated */
    int32_t n_generated; /* tokens sampled, a final eos included */
    vkc_stop_reason stop_reason;
} vkc_generate_result;

/* Called once per sampled token (except a stopping eos) with the text released at this step: always
 * complete UTF-8, possibly "" (an unfinished UTF-8 sequence, or text held back because it could be
 * the start of a stop string, or no tokenizer), and possibly ending text of earlier tokens. Text of a
 * stop string and after it is never passed. A last call with id -1 passes held-back text at the end.
 * Return false to stop. */
typedef bool (*vkc_token_fn)(const char* piece, int32_t id, void* user);

VKC_API vkc_generate_params vkc_generate_default_params(void);
/* Tokenizes prompt (NUL-terminated, non-empty, valid UTF-8), appends it to the session, then samples
 * and appends tokens until a stop. On return the session holds the prompt and every generated token
 * except a stopping eos (and except the last one when the context filled). params, on_token and result
 * may be NULL. Prompt longer than the free context -> VKC_INVALID_ARGUMENT naming both numbers. */
VKC_API vkc_status vkc_generate(vkc_session* session, vkc_sampler* sampler, const char* prompt,
                                const vkc_generate_params* params, vkc_token_fn on_token, void* user,
                                vkc_generate_result* result);
/* Same, from prompt ids (works without a tokenizer; then pieces are "" and stop strings are refused). */
VKC_API vkc_status vkc_generate_ids(vkc_session* session, vkc_sampler* sampler, const int32_t* prompt,
                                    int32_t n_prompt, const vkc_generate_params* params, vkc_token_fn on_token,
                                    void* user, vkc_generate_result* result);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* VKCONVGPT_H */
