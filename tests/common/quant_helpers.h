// Test-only Q8_0 / Q4_0 helpers: file-format blocks from float rows and their GPU-layout WeightTensor.
#pragma once
#include <cstdint>
#include <vector>

#include "model/quant.h"
#include "tests/common/gpu_helpers.h"

namespace vkc::test {

// File-format blocks of rows x K values and the values they dequantize to.
struct Quantized {
    std::vector<uint8_t> blocks;
    std::vector<float> deq;
};
inline Quantized quantize(WeightType t, const std::vector<float>& w, int64_t rows, int64_t K) {
    Quantized q;
    const int64_t rb = quant_padded_cols(K) / kQuantBlock * (int64_t)quant_block_bytes(t);
    q.blocks.resize(rows * rb);
    q.deq.resize(rows * K);
    for (int64_t r = 0; r < rows; ++r) {
        quantize_row(t, w.data() + r * K, K, q.blocks.data() + r * rb);
        dequantize_row(t, q.blocks.data() + r * rb, K, q.deq.data() + r * K);
    }
    return q;
}

// Quantized WeightTensor in the GPU layout, split into parts of rpp rows (0: one part).
inline WeightTensor quant_weight(Buffers& b, WeightType t, const Quantized& q, int64_t rows, int64_t K, int64_t rpp = 0) {
    WeightTensor w;
    w.type = t;
    w.rows = rows;
    w.cols = K;
    w.rows_per_part = rpp > 0 ? rpp : rows;
    const int64_t rb = quant_padded_cols(K) / kQuantBlock * (int64_t)quant_block_bytes(t);
    for (int64_t r0 = 0; r0 < rows; r0 += w.rows_per_part) {
        const int64_t n = std::min(w.rows_per_part, rows - r0);
        std::vector<uint8_t> part(quant_part_bytes(t, w.rows_per_part, n, K), 0xAB); // junk in the hole
        quant_to_gpu(t, q.blocks.data() + r0 * rb, n, K, part.data(), w.rows_per_part, 0);
        w.parts.push_back(b.from(part));
    }
    return w;
}

} // namespace vkc::test
