#include "model/weights.h"

#include <sys/stat.h>

#include <algorithm>

#include "model/gguf.h"
#include "model/quant.h"

namespace vkc {

TensorStore open_weights(const std::string& dir) {
    struct stat st{};
    const std::string gguf = dir + "/model.gguf";
    if (::stat(gguf.c_str(), &st) != 0) return TensorStore::open_dir(dir);
    const std::string st1 = dir + "/model.safetensors", st2 = dir + "/model.safetensors.index.json";
    if (::stat(st1.c_str(), &st) == 0 || ::stat(st2.c_str(), &st) == 0)
        fail(Status::invalid_model, dir + " holds both model.gguf and safetensors weights: keep one");
    return gguf_tensor_store(std::shared_ptr<GgufFile>(GgufFile::open(gguf)), dir, gguf);
}

WeightLoader::WeightLoader(Context& ctx, const TensorStore& store, Arena& arena)
    : ctx_(ctx), store_(store), arena_(arena) {}

void WeightLoader::matrix(WeightTensor* out, const std::vector<std::string>& names, int64_t cols, WeightType type) {
    Mat m{out, {}, 0, cols, type, {}};
    for (auto& n : names) {
        const TensorView& t = store_.get(n);
        if (t.numel() % cols != 0 || (t.ggml_quant && t.shape.back() != cols))
            fail(Status::invalid_model, "tensor '" + n + "' " + t.shape_str() + " is not a matrix with " +
                                            std::to_string(cols) + " columns");
        m.srcs.push_back(&t);
        m.rows += t.numel() / cols;
    }
    const bool q = weight_type_quantized(type);
    // bytes of one row in a part (quantized: quants + scales)
    const int64_t row_bytes = q ? quant_row_bytes(type, cols) : cols * (int64_t)weight_type_size(type);
    // Parts hold a multiple of 64 rows (kernels' row tiles) and an even element count (packed halves).
    const uint64_t range = ctx_.limits().max_storage_buffer_range;
    int64_t per = split_rows(m.rows, row_bytes, range - 64, 64);
    if (per < m.rows && (m.rows + per - 1) / per > kWeightParts)
        fail(Status::unsupported, "tensor '" + names[0] + "' needs more than " + std::to_string(kWeightParts) +
                                      " bindings of maxStorageBufferRange " + std::to_string(range) + " bytes");
    if (per < m.rows && !ctx_.features().dynamic_indexing)
        fail(Status::unsupported, "tensor '" + names[0] + "' exceeds maxStorageBufferRange and the device lacks "
                                  "shaderStorageBufferArrayDynamicIndexing");
    out->type = type;
    out->rows = m.rows;
    out->cols = cols;
    out->rows_per_part = per;
    for (int64_t r0 = 0; r0 < m.rows; r0 += per) {
        const int64_t n = std::min(per, m.rows - r0);
        if (q) {
            m.slots.push_back(arena_.reserve(quant_part_bytes(type, per, n, cols)));
            planned_ += n * row_bytes;
        } else {
            const int64_t esize = (int64_t)weight_type_size(type);
            m.slots.push_back(arena_.reserve((n * cols + 1) / 2 * 2 * esize));
            planned_ += n * cols * esize;
        }
    }
    mats_.push_back(std::move(m));
}

void WeightLoader::vector(BufferRef* out, const std::string& name) {
    const TensorView& t = store_.get(name);
    vecs_.push_back({out, &t, arena_.reserve(t.numel() * 4)});
    planned_ += t.numel() * 4;
}

void WeightLoader::upload(const ProgressFn& progress) {
    arena_.allocate();
    arena_.prefault(); // unified memory: the weights are written whole, in one pass
    Uploader up(ctx_);
    uint64_t done = 0;
    auto tick = [&](uint64_t bytes) {
        done += bytes;
        if (progress && !progress(planned_ ? float(double(done) / double(planned_)) : 1.f))
            fail(Status::cancelled, "model loading cancelled");
    };
    std::vector<float> f32;
    std::vector<uint16_t> f16;
    for (auto& v : vecs_) {
        *v.out = arena_.ref(v.slot);
        f32.resize(v.src->numel());
        view_to_f32(*v.src, f32.data());
        up.upload(*v.out, f32.data(), f32.size() * 4);
        tick(f32.size() * 4);
    }
    std::vector<uint8_t> blocks;
    std::vector<std::vector<uint8_t>> qparts;
    for (auto& m : mats_) {
        WeightTensor& w = *m.out;
        w.parts.clear();
        for (int s : m.slots) w.parts.push_back(arena_.ref(s));
        const bool q = weight_type_quantized(m.type);
        // Quantized: assemble every part on the host (scales and quants of a row are apart), upload at the end.
        if (q) {
            qparts.assign(w.parts.size(), {});
            for (size_t p = 0; p < w.parts.size(); ++p) qparts[p].assign(w.parts[p].size, 0);
        }
        // Convert source tensors one at a time, then scatter their rows into the parts.
        int64_t row = 0;
        const int64_t esize = q ? 0 : (int64_t)weight_type_size(m.type);
        for (const TensorView* src : m.srcs) {
            const int64_t rows = src->numel() / m.cols;
            const uint8_t* bytes;
            if (q) {
                if (view_quant_type(*src) == m.type) { // pre-quantized (GGUF): repack only
                    bytes = src->data;
                    if ((int64_t)src->nbytes != rows * quant_padded_cols(m.cols) / kQuantBlock * (int64_t)quant_block_bytes(m.type))
                        fail(Status::invalid_model, "tensor '" + src->name + "': block data size does not match its shape");
                } else {
                    f32.resize(src->numel());
                    view_to_f32(*src, f32.data());
                    const int64_t rb = quant_padded_cols(m.cols) / kQuantBlock * (int64_t)quant_block_bytes(m.type);
                    blocks.resize(rows * rb);
                    for (int64_t r = 0; r < rows; ++r) quantize_row(m.type, f32.data() + r * m.cols, m.cols, blocks.data() + r * rb);
                    bytes = blocks.data();
                }
                const int64_t rb = quant_padded_cols(m.cols) / kQuantBlock * (int64_t)quant_block_bytes(m.type);
                for (int64_t r = 0; r < rows;) {
                    const int64_t part = (row + r) / w.rows_per_part, in_part = (row + r) - part * w.rows_per_part;
                    const int64_t n = std::min(rows - r, w.rows_per_part - in_part);
                    quant_to_gpu(m.type, bytes + r * rb, n, m.cols, qparts[part].data(), w.rows_per_part, in_part);
                    r += n;
                }
                row += rows;
                tick(rows * quant_row_bytes(m.type, m.cols));
                continue;
            }
            if (m.type == WeightType::f32 || src->ggml_quant) {
                f32.resize(src->numel());
                view_to_f32(*src, f32.data());
                if (m.type == WeightType::f16) {
                    f16.resize(src->numel());
                    for (size_t i = 0; i < f32.size(); ++i) f16[i] = f32_to_f16(f32[i]);
                }
            } else if (src->dtype != DType::f16) {
                f16.resize(src->numel());
                tensor_to_f16(*src, f16.data());
            }
            // f16 files: rows go from the mapped file straight to the upload (no host copy in between)
            bytes = m.type == WeightType::f32   ? reinterpret_cast<const uint8_t*>(f32.data())
                    : src->dtype == DType::f16 ? src->data
                                               : reinterpret_cast<const uint8_t*>(f16.data());
            for (int64_t r = 0; r < rows;) {
                int64_t part = (row + r) / w.rows_per_part;
                int64_t in_part = (row + r) - part * w.rows_per_part;
                int64_t n = std::min(rows - r, w.rows_per_part - in_part);
                BufferRef dst = w.parts[part].sub(in_part * m.cols * esize, n * m.cols * esize);
                up.upload(dst, bytes + r * m.cols * esize, n * m.cols * esize);
                r += n;
            }
            row += rows;
            tick(src->numel() * esize);
        }
        for (size_t p = 0; q && p < w.parts.size(); ++p) up.upload(w.parts[p], qparts[p].data(), qparts[p].size());
    }
    up.finish();
}

} // namespace vkc
