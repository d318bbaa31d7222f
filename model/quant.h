// Q8_0 / Q4_0 block quantization (GGUF/ggml block formats) on the CPU, and the GPU layout.
//
// Blocks of 32 weights with one IEEE-half scale d (round to nearest, as ggml's reference quantizers):
//   Q8_0: d = max|x| / 127, q = round(x / d) in [-127, 127];            w = d * q.
//         File block: d (2 bytes) then 32 int8 (34 bytes).
//   Q4_0: m = the x with the largest |x| (sign kept), d = m / -8, q = min(15, trunc(x / d + 8.5));
//         w = d * (q - 8). File block: d then 16 bytes; byte j holds q[j] (low nibble) and q[j + 16]
//         (high nibble) (18 bytes).
// Rows whose width K is not a multiple of 32 are zero-padded to Kp = round_up(K, 32) (padding quantizes
// to exact zeros, so it adds nothing to dot products).
//
// GPU layout of one part (rows r < R of the part), all 4-byte aligned:
//   quants: row r at byte r * qrow, qrow = Kp (Q8_0: int8 in file order, 4 per uint, little end first)
//           or Kp / 2 (Q4_0: the 16 file bytes of each block in order);
//   scales: after rows_per_part * qrow bytes (the same offset in every part, so kernels need only
//           rows_per_part; the last part may leave a hole), the f16 d of (r, block b) at half index
//           r * (Kp / 32) + b, two per uint.
// Shaders read it through WQLOAD (shaders/common/types.glsl).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "model/kernels/kernel.h"
#include "model/safetensors.h"

namespace vkc {

constexpr int64_t kQuantBlock = 32;

// Block bytes in the file format (ggml): 34 (Q8_0) or 18 (Q4_0).
size_t quant_block_bytes(WeightType t);
inline int64_t quant_padded_cols(int64_t K) { return (K + kQuantBlock - 1) / kQuantBlock * kQuantBlock; }
// Quant bytes of one padded row in the GPU layout (Kp or Kp / 2).
int64_t quant_row_qbytes(WeightType t, int64_t K);
// Byte offset of the scales in every part of a tensor split by rows_per_part.
inline int64_t quant_scales_offset(WeightType t, int64_t rows_per_part, int64_t K) {
    return rows_per_part * quant_row_qbytes(t, K);
}
// Bytes of a GPU part holding `rows` (<= rows_per_part) rows (scale region rounded up to 4 bytes).
int64_t quant_part_bytes(WeightType t, int64_t rows_per_part, int64_t rows, int64_t K);
// Bytes per row for planning splits: quants + scales of one row.
inline int64_t quant_row_bytes(WeightType t, int64_t K) { return quant_row_qbytes(t, K) + quant_padded_cols(K) / 16; }

// Quantizes x[K] into Kp / 32 file-format blocks at dst (zero padding past K).
void quantize_row(WeightType t, const float* x, int64_t K, uint8_t* dst);
// Dequantizes Kp / 32 file-format blocks into y[K] (the padding is dropped).
void dequantize_row(WeightType t, const uint8_t* src, int64_t K, float* y);

// Any tensor view as f32 (quantized GGUF views are dequantized row by row); dst holds numel() floats.
void view_to_f32(const TensorView& t, float* dst);
// WeightType of a quantized GGUF view (TensorView::ggml_quant), f32 for dense views.
WeightType view_quant_type(const TensorView& t);

// Repacks `rows` rows of file-format blocks (each row Kp / 32 blocks) into rows [r0, r0 + rows) of a GPU
// part (host copy of quant_part_bytes bytes) of a tensor split by rows_per_part.
void quant_to_gpu(WeightType t, const uint8_t* blocks, int64_t rows, int64_t K, uint8_t* part, int64_t rows_per_part,
                  int64_t r0);

// `vkconvgpt-run quantize`: writes out_dir = in_dir's small files (config.json, tokenizer, template; any
// regular file but the weights) + model.gguf (model/gguf.h) holding every 2-D tensor (the matrices:
// embedding, projections, MLPs, head) as `t` blocks of rows padded to 32 columns and everything else
// (norms, convolution kernels) as F32. in_dir may itself hold a model.gguf (re-quantized through f32).
struct QuantizeStats {
    int tensors = 0, quantized = 0;
    uint64_t in_bytes = 0, out_bytes = 0;
};
QuantizeStats quantize_model_dir(const std::string& in_dir, const std::string& out_dir, WeightType t);

} // namespace vkc
