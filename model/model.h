// Architecture-independent model and sequence interfaces. A Model owns the device context, the
// pipelines, the weight arena and one activation arena that all its sequences reuse (their
// submissions are serialized). A Sequence owns its decode state on the GPU (KV cache / conv history /
// chunk memory, position) and a decode command buffer recorded once and replayed for every token.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/kernels/basic.h"
#include "model/kernels/kernel.h"
#include "model/kernels/topk.h"
#include "model/weights.h"
#include "runtime/command.h"
#include "runtime/context.h"
#include "runtime/memory.h"
#include "runtime/pipeline.h"

namespace vkc {

struct ModelOptions {
    WeightType weight_type = WeightType::f16;  // --precision f16 (default) | f32
    int max_batch = 256;                       // tokens per prefill chunk (activation capacity)
    int device_index = -1;                     // -1: $VKCONVGPT_DEVICE or best device
    bool validation = false;
    uint64_t max_storage_buffer_range = 0;     // emulate a smaller limit (0: the device's)
    bool force_staging = false;                // upload through the staging ring even on unified memory
    // Record a GPU top-K (kGpuTopK candidates) of the last logits row into every decode step, for
    // decode_topk / prefill_topk. Off by default: on a 65k vocabulary it costs ~0.35 ms per step on an
    // H100 (bench --profile), more than it saves a caller that reads full logits anyway.
    bool gpu_topk = false;
    // decode_batch runs rope and attention for all its sequences in one dispatch each (descriptor arrays
    // of their caches) where the device allows; false: one dispatch per sequence (the fallback path).
    bool batch_kernels = true;
    // Decode steps (up to 8 tokens, and decode_batch) compute the qkv projection inside the q/k norm +
    // RoPE + cache-write kernel (QkvRopeKernel: one dispatch per layer, not two) where the weights allow
    // (f32 / f16, one binding); false: matvec + qk_norm_rope.
    bool fuse_qkv_rope = true;
    std::string pipeline_cache_path = "default"; // "default": PipelineCache::default_path(); "": none
    ProgressFn progress;                       // load progress; return false to cancel
};

class Sequence;

// Most sequences one Model::decode_batch step runs in shared kernels (larger batches run in turns):
// up to 8 the matmuls stay on the matvec path, whose rows are bit-identical to single decodes.
constexpr int kMaxDecodeBatch = 8;

class Model {
public:
    static std::unique_ptr<Model> load(const std::string& dir, const ModelOptions& opts = {});
    virtual ~Model();

    const ModelConfig& config() const { return config_; }
    Context& context() { return *ctx_; }
    const ModelOptions& options() const { return opts_; }
    int vocab_size() const { return config_.vocab_size(); }
    uint64_t weight_bytes() const { return weights_->bytes(); }
    // ctx <= 0: the model's maximum (v1: max_position_embeddings or 4096; v2: grid_size^2).
    virtual std::unique_ptr<Sequence> new_sequence(int ctx = 0) = 0;
    std::mutex& submit_mutex() { return submit_mutex_; }
    int max_batch() const { return opts_.max_batch; }
    // Rows whose logits one submission can produce: [rows, vocab] f32 (and the head's activations) fit
    // one binding; <= max_batch.
    virtual int logits_rows_capacity() const;
    // Hash of the configuration and weight precision: a saved sequence state is accepted only by a
    // model with the same fingerprint (weights themselves are not hashed).
    uint64_t fingerprint() const;
    // One decode step for n distinct sequences of this model, each with room for one more token:
    // logits [n, vocab] (rows in order; may be null). The base runs each sequence's replayed decode in
    // turn; a model may override it to run the step in shared batched kernels (weights read once for
    // all rows). Results equal n separate decode() calls.
    // greedy [n] (may be null): each row's argmax (lowest id on ties, NaN never wins; -1 where every
    // logit is NaN or -inf), computed on the GPU by the batched kernels, so a greedy caller can pass
    // null logits and read back n ids instead of [n, vocab] floats.
    virtual void decode_batch(Sequence* const* seqs, const int32_t* ids, int n, float* logits,
                              int32_t* greedy = nullptr);
    // One decode_batch step recorded with a GPU timestamp after every dispatch: (kernel label, ns) each
    // (the base profiles the sequences' decode steps in turn). Advances every sequence like decode_batch.
    virtual std::vector<std::pair<std::string, double>> profile_decode_batch(Sequence* const* seqs,
                                                                             const int32_t* ids, int n);
    // Dispatches of the last decode_batch step (the recorded batch, or the sequences' steps in turn).
    uint32_t decode_batch_dispatches() const { return batch_dispatches_; }
    // Called by ~Sequence: drop anything recorded with the sequence's buffers.
    virtual void forget_sequence(Sequence*) {}

protected:
    Model(std::unique_ptr<Context> ctx, ModelConfig cfg, const ModelOptions& opts);
    // Called once every load-time kernel exists: waits for their pipelines (compiled on builder_'s
    // threads since the constructor; a failed creation fails the load) and saves the pipeline cache.
    void finish_pipelines();
    std::unique_ptr<Context> ctx_;
    ModelConfig config_;
    ModelOptions opts_;
    std::unique_ptr<PipelineCache> cache_;
    std::unique_ptr<PipelineBuilder> builder_; // attached to cache_ until finish_pipelines()
    std::unique_ptr<KernelEnv> env_;
    std::unique_ptr<Arena> weights_;
    std::unique_ptr<Arena> acts_;
    std::unique_ptr<AdvanceKernel> advance_;
    std::unique_ptr<TopKKernel> topk_; // GPU top-K of the last logits row (decode / prefill Logits::last)
    std::mutex submit_mutex_;
    uint32_t batch_dispatches_ = 0;
    friend class Sequence;
};

enum class Logits { none, last, all };

// Index of the largest of l[0 .. n): the first on ties; NaN never wins; -1 when every value is NaN or
// -inf (the semantics of the GPU top-K's first pick and of the greedy sampler).
int32_t argmax_row(const float* l, int n);
// The same pick from the GPU top-K's first pair (k = 1): its id, or -1 where there is none (no valid
// id, or the best logit is -inf).
int32_t greedy_pick(const TopKPair& first, int vocab);

// Candidates the GPU keeps for the last logits row of every step run with Logits::last (decode steps
// included): the top kGpuTopK (id, value) pairs, sorted by value descending, ties -> lower id.
constexpr int kGpuTopK = 64;
// Most steps one Sequence::decode_greedy submission chains.
constexpr int kMaxGreedySteps = 64;
static_assert(kGpuTopK <= (int)kTopKMax, "topk kernel limit");

class Sequence {
public:
    virtual ~Sequence();
    int pos() const { return pos_; }
    int capacity() const { return ctx_len_; }
    // Runs n tokens as batched prefill (chunks of max_batch recorded into one submission when only the
    // last row's logits are wanted). logits: [n, vocab] for Logits::all, else [vocab] of the last token.
    void prefill(const int32_t* ids, int n, Logits mode, float* logits);
    // One token through the decode command buffer recorded once at creation and replayed.
    void decode(int32_t id, float* logits);
    // Same step as decode() (the same replayed command buffer) but reads back only the GPU top-K of
    // the logits: ids/values [kGpuTopK] each, sorted descending, ties -> lower id. Slots beyond the
    // vocabulary (vocab < kGpuTopK) get id -1 and value -inf. No [vocab] copy.
    void decode_topk(int32_t id, int32_t* ids, float* values);
    // prefill(ids, n, Logits::last, nullptr) then the top-K candidates of the last row, as decode_topk.
    void prefill_topk(const int32_t* ids, int n, int32_t* top_ids, float* top_values);
    // n greedy decode steps in one submission, no host round trip between them: step 0 evaluates id,
    // step i > 0 the argmax of step i - 1's logits (TopK k = 1 on the GPU; lowest id on ties, NaN never
    // wins), and out[i] = step i's argmax. Evaluates id, out[0 .. n-2] (pos advances by n); out[n-1] is
    // the next input. Returns the steps kept: n, or i + 1 when step i has no pick (every logit NaN or
    // -inf: out[i ..] = -1, the later steps are dropped). 1 <= n <= max_greedy_steps(). The command
    // buffer is recorded on the first call with a given n and replayed while n stays the same.
    int decode_greedy(int32_t id, int n, int32_t* out);
    int max_greedy_steps() const;
    uint32_t greedy_dispatches() const { return greedy_dispatches_; } // of the last recorded chain
    // One decode step recorded with a GPU timestamp after every dispatch: (kernel label, ns) each.
    std::vector<std::pair<std::string, double>> profile_decode(int32_t id);
    // One prefill submission of n <= max_batch() tokens, timed the same way (pos advances by n).
    std::vector<std::pair<std::string, double>> profile_prefill(const int32_t* ids, int n);
    void reset(); // back to position 0 (state is overwritten as positions are refilled)
    // Keeps the first n tokens (0 <= n <= pos): like reset(), the state is position-indexed and
    // overwritten as positions are refilled (v2 chunk summaries are rewritten when a chunk closes again).
    void truncate(int n);
    uint64_t decode_records() const { return decode_cb_->record_count(); }
    uint64_t state_bytes() const { return state_->bytes(); }
    uint32_t decode_dispatches() const { return decode_dispatches_; }
    // For Model::decode_batch implementations (submit lock held): check the id and room, fix a stale
    // GPU position (begin; the batch holds the ids itself); count the token after a successful step (end).
    void check_step(int32_t id) const { check_ids(&id, 1); }
    void begin_batched_step();
    void end_batched_step() { pos_ += 1; pos_dirty_ = false; }
    void mark_pos_unknown() { pos_dirty_ = true; }

    // Sequence state save/restore: a header (magic, version, model fingerprint, context, position, slot
    // sizes) then every slot of the state arena, downloaded from the GPU. save_state appends
    // state_size() bytes to out. load_state validates the header against this sequence (Error
    // invalid_argument naming what differs: another model, another context, a truncated buffer), uploads
    // the arena, sets the position and returns the bytes it consumed (trailing bytes are the caller's).
    size_t state_size() const;
    void save_state(std::vector<uint8_t>& out);
    size_t load_state(const uint8_t* data, size_t size);

protected:
    Sequence(Model& m, int ctx_len);
    // Records the forward of n tokens (ids at tokens[tok_offset..]) starting at seq.pos. Logits rows go
    // to logits buffer rows [0, n) (all), row 0 (last) or nowhere (none). The caller then records the
    // GPU-side advance of seq.pos.
    virtual void record_forward(Recorder& rec, uint32_t n, uint32_t tok_offset, Logits mode) = 0;
    // Called by subclasses at the end of their constructor, once every buffer is bound.
    void finish_setup();
    void check_ids(const int32_t* ids, int n) const;
    // seq.pos lives in device memory and is advanced by the GPU; the host sets it only when its own
    // count and the GPU's may differ (after reset or an error), by a vkCmdUpdateBuffer.
    void record_pos(Recorder& rec);
    void submit(CommandBuffer& cb); // submit and wait, keeping pos_dirty_ right if it fails
    void record_step(Recorder& rec, uint32_t n, uint32_t tok_offset, Logits mode);
    // n tokens through one timestamped step (room for `stamps` timestamps): profile_decode / _prefill
    std::vector<std::pair<std::string, double>> profile_step(const int32_t* ids, int n, uint32_t stamps);
    void submit_decode(int32_t id);                  // the replayed decode step (lock held by the caller)
    void sync_pos();                                 // rewrites the GPU position if it may be stale
    void record_greedy(int n);                       // decode_greedy's chain of n steps
    void require_topk() const; // Error unless the model was loaded with gpu_topk
    void read_topk(int32_t* ids, float* values) const; // from topk_out_ after a Logits::last step

    Model& model_;
    int ctx_len_;
    int pos_ = 0;
    bool pos_dirty_ = true; // GPU seq.pos must be rewritten before the next decode
    std::unique_ptr<Arena> state_; // device: seq info, KV cache, histories
    std::unique_ptr<Arena> io_;    // host-visible: token ids, logits
    BufferRef seq_, tokens_, logits_;
    BoundSet advance_set_;
    std::unique_ptr<DescriptorArena> sets_;
    std::unique_ptr<CommandBuffer> prefill_cb_, decode_cb_;
    uint32_t decode_dispatches_ = 0;
    // GPU top-K of logits row 0, created in finish_setup() (io_ and state_ are allocated by then, and
    // the state arena's layout is the saved-state format): out [kGpuTopK] pairs host-visible, scratch
    // device-local.
    std::unique_ptr<Arena> topk_io_, topk_scratch_arena_;
    BufferRef topk_out_, topk_scratch_;
    BoundSet topk_set_;
    // decode_greedy: the chain recorded for greedy_n_ steps (0: none yet), its TopK k = 1 set (logits
    // row 0 -> tokens_ viewed as pairs) and scratch, created on first use.
    std::unique_ptr<CommandBuffer> greedy_cb_;
    std::unique_ptr<Arena> greedy_scratch_arena_;
    BoundSet greedy_set_;
    int greedy_n_ = 0;
    uint32_t greedy_dispatches_ = 0;
};

} // namespace vkc
