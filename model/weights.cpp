#include "model/weights.h"

#include <algorithm>

namespace vkc {

WeightLoader::WeightLoader(Context& ctx, const TensorStore& store, Arena& arena)
    : ctx_(ctx), store_(store), arena_(arena) {}

void WeightLoader::matrix(WeightTensor* out, const std::vector<std::string>& names, int64_t cols, WeightType type) {
    Mat m{out, {}, 0, cols, type, {}};
    for (auto& n : names) {
        const TensorView& t = store_.get(n);
        if (t.numel() % cols != 0)
            fail(Status::invalid_model, "tensor '" + n + "' " + t.shape_str() + " is not a matrix with " +
                                            std::to_string(cols) + " columns");
        m.srcs.push_back(&t);
        m.rows += t.numel() / cols;
    }
    const int64_t esize = (int64_t)weight_type_size(type);
    // Parts hold a multiple of 64 rows (kernels' row tiles) and an even element count (packed halves).
    const uint64_t range = ctx_.limits().max_storage_buffer_range;
    int64_t per = split_rows(m.rows, cols * esize, range - 64, 64);
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
        int64_t n = std::min(per, m.rows - r0) * cols;
        m.slots.push_back(arena_.reserve((n + 1) / 2 * 2 * esize));
        planned_ += n * esize;
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
        tensor_to_f32(*v.src, f32.data());
        up.upload(*v.out, f32.data(), f32.size() * 4);
        tick(f32.size() * 4);
    }
    for (auto& m : mats_) {
        WeightTensor& w = *m.out;
        w.parts.clear();
        for (int s : m.slots) w.parts.push_back(arena_.ref(s));
        // Convert source tensors one at a time, then scatter their rows into the parts.
        int64_t row = 0;
        const int64_t esize = (int64_t)weight_type_size(m.type);
        for (const TensorView* src : m.srcs) {
            int64_t rows = src->numel() / m.cols;
            const uint8_t* bytes;
            if (m.type == WeightType::f32) {
                f32.resize(src->numel());
                tensor_to_f32(*src, f32.data());
                bytes = reinterpret_cast<const uint8_t*>(f32.data());
            } else {
                f16.resize(src->numel());
                tensor_to_f16(*src, f16.data());
                bytes = reinterpret_cast<const uint8_t*>(f16.data());
            }
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
    }
    up.finish();
}

} // namespace vkc
