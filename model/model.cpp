#include "model/model.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace vkc {

std::unique_ptr<Model> load_v1(const std::string& dir, const ModelConfig& cfg, std::unique_ptr<Context> ctx,
                               const ModelOptions& opts); // convgpt_v1.cpp
std::unique_ptr<Model> load_v2(const std::string& dir, const ModelConfig& cfg, std::unique_ptr<Context> ctx,
                               const ModelOptions& opts); // convgpt_v2.cpp

std::unique_ptr<Model> Model::load(const std::string& dir, const ModelOptions& opts) {
    if (opts.max_batch < 1) fail(Status::invalid_argument, "max_batch must be >= 1");
    ModelConfig cfg = load_config(dir);
    ContextOptions co;
    co.device_index = opts.device_index;
    co.validation = opts.validation;
    co.max_storage_buffer_range = opts.max_storage_buffer_range;
    co.force_staging = opts.force_staging;
    auto ctx = Context::create(co);
    if (cfg.arch == Arch::v1) return load_v1(dir, cfg, std::move(ctx), opts);
    return load_v2(dir, cfg, std::move(ctx), opts);
}

Model::Model(std::unique_ptr<Context> ctx, ModelConfig cfg, const ModelOptions& opts)
    : ctx_(std::move(ctx)), config_(std::move(cfg)), opts_(opts) {
    std::string path = opts.pipeline_cache_path == "default" ? PipelineCache::default_path() : opts.pipeline_cache_path;
    cache_ = std::make_unique<PipelineCache>(*ctx_, path);
    builder_ = std::make_unique<PipelineBuilder>();
    cache_->set_builder(builder_.get());
    env_ = std::make_unique<KernelEnv>(KernelEnv{*ctx_, *cache_});
    weights_ = std::make_unique<Arena>(*ctx_, MemoryKind::device, "weights");
    acts_ = std::make_unique<Arena>(*ctx_, MemoryKind::device, "activations");
    advance_ = std::make_unique<AdvanceKernel>(*env_);
    topk_ = std::make_unique<TopKKernel>(*env_); // greedy picks on the GPU (batches, chains; gpu_topk)
}

Model::~Model() {
    if (ctx_) vkDeviceWaitIdle(ctx_->device());
}

void Model::finish_pipelines() {
    cache_->set_builder(nullptr); // kernels made later create their pipelines in place
    std::unique_ptr<PipelineBuilder> b = std::move(builder_);
    if (b) b->wait();
    try {
        cache_->save();
    } catch (const Error&) {
        // A read-only cache directory must not make loading fail: the cache is an optimization.
    }
}

int Model::logits_rows_capacity() const {
    uint64_t per_row = uint64_t(vocab_size()) * 4;
    uint64_t rows = ctx_->limits().max_storage_buffer_range / per_row;
    return (int)std::max<uint64_t>(1, std::min<uint64_t>(rows, (uint64_t)opts_.max_batch));
}

// ---- Sequence ------------------------------------------------------------------------------------

Sequence::Sequence(Model& m, int ctx_len) : model_(m), ctx_len_(ctx_len) {
    Context& c = m.context();
    state_ = std::make_unique<Arena>(c, MemoryKind::device, "sequence state");
    io_ = std::make_unique<Arena>(c, MemoryKind::host, "sequence io");
    sets_ = std::make_unique<DescriptorArena>(c);
    prefill_cb_ = std::make_unique<CommandBuffer>(c);
    decode_cb_ = std::make_unique<CommandBuffer>(c);
}

Sequence::~Sequence() {
    model_.forget_sequence(this);
    try {
        if (prefill_cb_) prefill_cb_->wait();
        if (decode_cb_) decode_cb_->wait();
        if (greedy_cb_) greedy_cb_->wait();
    } catch (...) {
    }
}

void Sequence::finish_setup() {
    advance_set_ = model_.advance_->bind(*sets_, seq_);
    if (model_.opts_.gpu_topk) {
        Context& c = model_.context();
        const uint32_t V = (uint32_t)model_.vocab_size();
        topk_io_ = std::make_unique<Arena>(c, MemoryKind::host, "sequence top-k");
        topk_scratch_arena_ = std::make_unique<Arena>(c, MemoryKind::device, "sequence top-k scratch");
        int so = topk_io_->reserve(kGpuTopK * sizeof(TopKPair));
        int ss = topk_scratch_arena_->reserve(model_.topk_->scratch_bytes(1, V, kGpuTopK));
        topk_io_->allocate();
        topk_scratch_arena_->allocate();
        topk_out_ = topk_io_->ref(so);
        topk_scratch_ = topk_scratch_arena_->ref(ss);
        topk_set_ = model_.topk_->bind(*sets_, logits_, topk_scratch_, topk_out_);
    }
    // The decode step is recorded exactly once, here; decode() only writes the token id and submits.
    Recorder rec(decode_cb_->begin(false));
    record_step(rec, 1, 0, Logits::last);
    rec.host_read_barrier();
    decode_cb_->end();
    decode_dispatches_ = rec.dispatches();
}

void Sequence::check_ids(const int32_t* ids, int n) const {
    const int v = model_.vocab_size();
    for (int i = 0; i < n; ++i)
        if (ids[i] < 0 || ids[i] >= v)
            fail(Status::invalid_argument, "token id " + std::to_string(ids[i]) + " at index " + std::to_string(i) +
                                               " is out of range [0, " + std::to_string(v) + ")");
    if ((int64_t)pos_ + n > ctx_len_)
        fail(Status::invalid_argument, "sequence of " + std::to_string(pos_ + n) + " tokens exceeds the context of " +
                                           std::to_string(ctx_len_) + " tokens");
}

void Sequence::record_pos(Recorder& rec) {
    SeqInfo s{(uint32_t)pos_, 0, 0, 0};
    rec.update(seq_, &s, sizeof s);
}

void Sequence::submit(CommandBuffer& cb) {
    // If the submission fails the GPU position is unknown: the next call rewrites it.
    pos_dirty_ = true;
    cb.submit_and_wait();
    pos_dirty_ = false;
}

void Sequence::reset() {
    pos_ = 0;
    pos_dirty_ = true;
}

void Sequence::truncate(int n) {
    if (n < 0 || n > pos_)
        fail(Status::invalid_argument, "truncate to " + std::to_string(n) + " tokens: the sequence holds " +
                                           std::to_string(pos_));
    pos_ = n;
    pos_dirty_ = true;
}

std::vector<std::pair<std::string, double>> Sequence::profile_decode(int32_t id) {
    return profile_step(&id, 1, decode_dispatches_ + 2);
}

std::vector<std::pair<std::string, double>> Sequence::profile_prefill(const int32_t* ids, int n) {
    if (n <= 0 || n > model_.max_batch())
        fail(Status::invalid_argument, "profile_prefill: " + std::to_string(n) + " tokens (1 .. max_batch " +
                                           std::to_string(model_.max_batch()) + ")");
    return profile_step(ids, n, 4096);
}

std::vector<std::pair<std::string, double>> Sequence::profile_step(const int32_t* ids, int n, uint32_t stamps) {
    check_ids(ids, n);
    std::lock_guard<std::mutex> lock(model_.submit_mutex());
    TimestampQueries ts(model_.context(), stamps);
    CommandBuffer cb(model_.context());
    std::memcpy(tokens_.mapped, ids, size_t(n) * 4);
    Recorder rec(cb.begin(true), &ts);
    record_pos(rec);
    record_step(rec, (uint32_t)n, 0, Logits::last);
    cb.end();
    submit(cb);
    pos_ += n;
    return ts.read(rec.labels(), rec.stamps());
}

void Sequence::record_step(Recorder& rec, uint32_t n, uint32_t tok_offset, Logits mode) {
    record_forward(rec, n, tok_offset, mode);
    // GPU top-K of the last row's logits (row 0 of logits_), so the host may read kGpuTopK candidates.
    if (mode == Logits::last && topk_set_.pipeline)
        model_.topk_->record(rec, topk_set_, 1, (uint32_t)model_.vocab_size(), (uint32_t)model_.vocab_size(),
                             kGpuTopK);
    model_.advance_->record(rec, advance_set_, n);
}

void Sequence::prefill(const int32_t* ids, int n, Logits mode, float* logits) {
    if (n <= 0) fail(Status::invalid_argument, "prefill of an empty token list");
    check_ids(ids, n);
    std::lock_guard<std::mutex> lock(model_.submit_mutex());
    const int V = model_.vocab_size();
    const int chunk = mode == Logits::all ? model_.logits_rows_capacity() : model_.max_batch();
    // All logits: one submission per chunk (each chunk's rows are read back). Last only: one submission.
    int done = 0;
    while (done < n) {
        int in_submit = mode == Logits::all ? std::min(chunk, n - done) : n - done;
        std::memcpy(tokens_.mapped, ids + done, size_t(in_submit) * 4);
        Recorder rec(prefill_cb_->begin(true));
        record_pos(rec);
        for (int off = 0; off < in_submit; off += chunk) {
            int m = std::min(chunk, in_submit - off);
            bool last_chunk = off + m == in_submit;
            record_step(rec, (uint32_t)m, (uint32_t)off,
                        mode == Logits::all ? Logits::all : last_chunk ? Logits::last : Logits::none);
        }
        rec.host_read_barrier();
        prefill_cb_->end();
        submit(*prefill_cb_);
        if (logits && mode == Logits::all)
            std::memcpy(logits + size_t(done) * V, logits_.mapped, size_t(in_submit) * V * 4);
        else if (logits && mode == Logits::last)
            std::memcpy(logits, logits_.mapped, size_t(V) * 4);
        pos_ += in_submit;
        done += in_submit;
    }
}

void Sequence::sync_pos() {
    if (!pos_dirty_) return;
    Recorder rec(prefill_cb_->begin(true));
    record_pos(rec);
    prefill_cb_->end();
    submit(*prefill_cb_);
}

void Sequence::submit_decode(int32_t id) {
    sync_pos(); // rare: after reset() or a failed submission
    std::memcpy(tokens_.mapped, &id, 4);
    submit(*decode_cb_);
}

int Sequence::max_greedy_steps() const {
    // the chain's pairs live in tokens_ (ctx_len uints): pair i + 1 holds step i's pick
    return std::max(0, std::min(kMaxGreedySteps, ctx_len_ / 2 - 1));
}

// tokens_ as TopKPair [ctx_len / 2]: pair 0's id is the first input (written by the host); step i embeds
// the id of pair i (uint 2i) and its argmax (TopK k = 1 over logits row 0) writes pair i + 1.
void Sequence::record_greedy(int n) {
    const uint32_t V = (uint32_t)model_.vocab_size();
    if (!greedy_set_.pipeline) {
        greedy_scratch_arena_ = std::make_unique<Arena>(model_.context(), MemoryKind::device, "greedy chain scratch");
        const int ss = greedy_scratch_arena_->reserve(model_.topk_->scratch_bytes(1, V, 1));
        greedy_scratch_arena_->allocate();
        greedy_set_ = model_.topk_->bind(*sets_, logits_, greedy_scratch_arena_->ref(ss), tokens_);
    }
    if (!greedy_cb_) greedy_cb_ = std::make_unique<CommandBuffer>(model_.context());
    greedy_n_ = 0;
    Recorder rec(greedy_cb_->begin(false));
    for (int i = 0; i < n; ++i) {
        record_forward(rec, 1, 2u * i, Logits::last);
        model_.topk_->record(rec, greedy_set_, 1, V, V, 1, (uint32_t)i + 1);
        model_.advance_->record(rec, advance_set_, 1);
    }
    rec.host_read_barrier();
    greedy_cb_->end();
    greedy_n_ = n;
    greedy_dispatches_ = rec.dispatches();
}

int Sequence::decode_greedy(int32_t id, int n, int32_t* out) {
    if (!out) fail(Status::invalid_argument, "decode_greedy: out is NULL");
    if (n < 1 || n > max_greedy_steps())
        fail(Status::invalid_argument, "decode_greedy: " + std::to_string(n) + " steps (1 to " +
                                           std::to_string(max_greedy_steps()) + " per submission at this context)");
    check_ids(&id, 1);
    if ((int64_t)pos_ + n > ctx_len_)
        fail(Status::invalid_argument, "decode_greedy: " + std::to_string(n) + " steps from position " +
                                           std::to_string(pos_) + " exceed the context of " + std::to_string(ctx_len_) +
                                           " tokens");
    std::lock_guard<std::mutex> lock(model_.submit_mutex());
    if (greedy_n_ != n) record_greedy(n);
    sync_pos();
    std::memcpy(tokens_.mapped, &id, 4);
    submit(*greedy_cb_);
    std::vector<TopKPair> p(size_t(n) + 1);
    std::memcpy(p.data(), tokens_.mapped, p.size() * sizeof(TopKPair));
    for (int i = 0; i < n; ++i) {
        out[i] = greedy_pick(p[i + 1], model_.vocab_size());
        // no pick (every logit NaN or -inf): the steps after it ran on a clamped id, so the sequence
        // keeps only the steps up to this one
        if (out[i] < 0) {
            std::fill(out + i, out + n, -1);
            pos_ += i + 1;
            pos_dirty_ = true; // the GPU advanced n positions
            return i + 1;
        }
    }
    pos_ += n;
    return n;
}

void Sequence::begin_batched_step() { sync_pos(); }

int32_t argmax_row(const float* l, int n) {
    int32_t best = -1;
    float bv = -std::numeric_limits<float>::infinity();
    for (int i = 0; i < n; ++i)
        if (l[i] > bv) bv = l[i], best = i; // false for NaN and for -inf
    return best;
}

int32_t greedy_pick(const TopKPair& first, int vocab) {
    const bool none = first.id >= (uint32_t)vocab || first.value == -std::numeric_limits<float>::infinity();
    return none ? -1 : (int32_t)first.id;
}

void Model::decode_batch(Sequence* const* seqs, const int32_t* ids, int n, float* logits, int32_t* greedy) {
    const size_t V = (size_t)vocab_size();
    std::vector<float> row(greedy && !logits ? V : 0); // greedy without logits: one row on the host
    batch_dispatches_ = 0;
    for (int i = 0; i < n; ++i) {
        float* l = logits ? logits + i * V : greedy ? row.data() : nullptr;
        seqs[i]->decode(ids[i], l);
        batch_dispatches_ += seqs[i]->decode_dispatches();
        if (greedy) greedy[i] = argmax_row(l, (int)V);
    }
}

std::vector<std::pair<std::string, double>> Model::profile_decode_batch(Sequence* const* seqs, const int32_t* ids,
                                                                       int n) {
    std::vector<std::pair<std::string, double>> all;
    for (int i = 0; i < n; ++i) {
        auto p = seqs[i]->profile_decode(ids[i]);
        all.insert(all.end(), p.begin(), p.end());
    }
    return all;
}

void Sequence::decode(int32_t id, float* logits) {
    check_ids(&id, 1);
    std::lock_guard<std::mutex> lock(model_.submit_mutex());
    submit_decode(id);
    if (logits) std::memcpy(logits, logits_.mapped, size_t(model_.vocab_size()) * 4);
    pos_ += 1;
}

void Sequence::read_topk(int32_t* ids, float* values) const {
    TopKPair p[kGpuTopK];
    std::memcpy(p, topk_out_.mapped, sizeof p);
    for (int i = 0; i < kGpuTopK; ++i) {
        const bool valid = p[i].id != kTopKInvalid;
        if (ids) ids[i] = valid ? (int32_t)p[i].id : -1;
        if (values) values[i] = valid ? p[i].value : -std::numeric_limits<float>::infinity();
    }
}

void Sequence::require_topk() const {
    if (!topk_set_.pipeline)
        fail(Status::invalid_argument, "GPU top-K is off for this model: load it with ModelOptions::gpu_topk");
}

void Sequence::decode_topk(int32_t id, int32_t* ids, float* values) {
    require_topk();
    check_ids(&id, 1);
    std::lock_guard<std::mutex> lock(model_.submit_mutex());
    submit_decode(id);
    read_topk(ids, values);
    pos_ += 1;
}

void Sequence::prefill_topk(const int32_t* ids, int n, int32_t* top_ids, float* top_values) {
    require_topk();
    prefill(ids, n, Logits::last, nullptr); // its last chunk runs the top-K on the last row
    std::lock_guard<std::mutex> lock(model_.submit_mutex());
    read_topk(top_ids, top_values);
}

// ---- state save/restore ---------------------------------------------------------------------------

namespace {

constexpr char kStateMagic[8] = {'V', 'K', 'C', 'S', 'T', 'A', 'T', 'E'};
constexpr uint32_t kStateVersion = 1;

// Host byte order (states move between runs on one kind of machine, not across endianness).
struct StateHeader {
    char magic[8];
    uint32_t version;
    uint32_t n_slots;
    uint64_t fingerprint;
    uint32_t ctx_len;
    uint32_t pos;
    uint64_t payload_bytes;
    // followed by n_slots uint64 slot sizes, then the slots' bytes in order
};
static_assert(sizeof(StateHeader) == 40, "StateHeader layout");

// Every slot of an arena in reservation order.
std::vector<BufferRef> arena_slots(const Arena& a) {
    std::vector<BufferRef> v;
    for (int i = 0; i < a.slots(); ++i) v.push_back(a.ref(i));
    return v;
}

struct Fnv {
    uint64_t h = 1469598103934665603ull;
    void bytes(const void* p, size_t n) {
        for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const uint8_t*>(p)[i]) * 1099511628211ull;
    }
    void i(int64_t v) { bytes(&v, sizeof v); }
    void f(float v) { bytes(&v, sizeof v); }
    void b(const std::vector<bool>& v) {
        i((int64_t)v.size());
        for (bool x : v) i(x);
    }
};

} // namespace

uint64_t Model::fingerprint() const {
    Fnv h;
    const ModelConfig& c = config_;
    h.i((int)c.arch);
    h.i((int)opts_.weight_type);
    if (c.arch == Arch::v1) {
        const V1Config& v = c.v1;
        for (int x : {v.vocab_size, v.hidden_size, v.e, v.f, v.td, v.conv_k, v.n_layers, v.n_heads, v.n_kv_heads,
                      v.head_dim, v.intermediate_size, v.sliding_window, (int)v.tie_word_embeddings,
                      v.max_position_embeddings})
            h.i(x);
        h.f(v.rms_norm_eps);
        h.f(v.rope_theta);
        h.b(v.layer_sliding);
    } else {
        const V2Config& v = c.v2;
        for (int x : {v.vocab_size, v.hidden_size, v.n_layers, v.intermediate_size, v.conv1d_kernel, v.conv2d_kernel,
                      v.grid_size, v.memory_every, v.memory_chunk_size, v.memory_top_k, v.memory_heads,
                      v.memory_head_dim, (int)v.tie_word_embeddings})
            h.i(x);
        h.f(v.rms_norm_eps);
        h.f(v.rope_theta);
        h.b(v.memory_rope);
    }
    return h.h;
}

size_t Sequence::state_size() const {
    size_t n = sizeof(StateHeader);
    for (const BufferRef& r : arena_slots(*state_)) n += 8 + r.size;
    return n;
}

void Sequence::save_state(std::vector<uint8_t>& out) {
    const std::vector<BufferRef> slots = arena_slots(*state_);
    StateHeader h{};
    std::memcpy(h.magic, kStateMagic, 8);
    h.version = kStateVersion;
    h.n_slots = (uint32_t)slots.size();
    h.fingerprint = model_.fingerprint();
    h.ctx_len = (uint32_t)ctx_len_;
    h.pos = (uint32_t)pos_;
    for (const BufferRef& r : slots) h.payload_bytes += r.size;
    const size_t start = out.size();
    out.resize(start + sizeof h + 8 * slots.size() + h.payload_bytes);
    uint8_t* p = out.data() + start;
    std::memcpy(p, &h, sizeof h);
    p += sizeof h;
    for (const BufferRef& r : slots) {
        uint64_t sz = r.size;
        std::memcpy(p, &sz, 8);
        p += 8;
    }
    // The download shares the queue with every sequence of the model.
    std::lock_guard<std::mutex> lock(model_.submit_mutex());
    for (const BufferRef& r : slots) {
        download(model_.context(), r, p, r.size);
        p += r.size;
    }
}

size_t Sequence::load_state(const uint8_t* data, size_t size) {
    auto bad = [](const std::string& m) { fail(Status::invalid_argument, "session state: " + m); };
    StateHeader h;
    if (!data || size < sizeof h) bad("buffer of " + std::to_string(size) + " bytes is too small for a header");
    std::memcpy(&h, data, sizeof h);
    if (std::memcmp(h.magic, kStateMagic, 8) != 0) bad("not a vkconvgpt sequence state (bad magic)");
    if (h.version != kStateVersion)
        bad("format version " + std::to_string(h.version) + " is not supported (expected " +
            std::to_string(kStateVersion) + ")");
    if (h.fingerprint != model_.fingerprint())
        bad("it was saved from a different model (configuration or weight precision differ)");
    if ((int)h.ctx_len != ctx_len_)
        bad("it was saved from a session with a context of " + std::to_string(h.ctx_len) +
            " tokens; this session has " + std::to_string(ctx_len_));
    if ((int64_t)h.pos > ctx_len_) bad("position " + std::to_string(h.pos) + " exceeds the context");
    const std::vector<BufferRef> slots = arena_slots(*state_);
    if (h.n_slots != slots.size())
        bad("layout differs (" + std::to_string(h.n_slots) + " buffers, this session has " +
            std::to_string(slots.size()) + ")");
    const size_t need = sizeof h + 8 * slots.size() + h.payload_bytes;
    if (size < sizeof h + 8 * slots.size() || size < need)
        bad("buffer of " + std::to_string(size) + " bytes is truncated (needs " + std::to_string(need) + ")");
    const uint8_t* p = data + sizeof h;
    uint64_t total = 0;
    for (size_t i = 0; i < slots.size(); ++i, p += 8) {
        uint64_t sz;
        std::memcpy(&sz, p, 8);
        if (sz != slots[i].size)
            bad("layout differs (buffer " + std::to_string(i) + ": " + std::to_string(sz) + " bytes, this session has " +
                std::to_string(slots[i].size) + "; saved with other model options such as max_batch?)");
        total += sz;
    }
    if (total != h.payload_bytes) bad("corrupt header (payload size)");
    std::lock_guard<std::mutex> lock(model_.submit_mutex());
    Uploader up(model_.context());
    for (const BufferRef& r : slots) {
        up.upload(r, p, r.size);
        p += r.size;
    }
    up.finish();
    pos_ = (int)h.pos;
    pos_dirty_ = true; // the uploaded SeqInfo is rewritten from pos_ before the next step
    return need;
}

} // namespace vkc
