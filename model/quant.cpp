#include "model/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <filesystem>

#include "model/config.h"
#include "model/gguf.h"
#include "model/safetensors.h"
#include "model/weights.h"

namespace vkc {

namespace {
void check_type(WeightType t) {
    if (!weight_type_quantized(t)) fail(Status::internal, std::string("not a quantized type: ") + weight_type_suffix(t));
}

// One block of 32 values (zero beyond n) -> file format.
void quantize_block(WeightType t, const float* x, int64_t n, uint8_t* dst) {
    float v[kQuantBlock];
    for (int64_t i = 0; i < kQuantBlock; ++i) v[i] = i < n ? x[i] : 0.f;
    if (t == WeightType::q8_0) {
        float amax = 0.f;
        for (float f : v) amax = std::max(amax, std::fabs(f));
        const float d = amax / 127.f, id = d != 0.f ? 1.f / d : 0.f;
        const uint16_t dh = f32_to_f16(d);
        std::memcpy(dst, &dh, 2);
        for (int i = 0; i < kQuantBlock; ++i) dst[2 + i] = (uint8_t)(int8_t)std::lround(v[i] * id);
    } else {
        float amax = 0.f, m = 0.f;
        for (float f : v)
            if (std::fabs(f) > amax) amax = std::fabs(f), m = f;
        const float d = m / -8.f, id = d != 0.f ? 1.f / d : 0.f;
        const uint16_t dh = f32_to_f16(d);
        std::memcpy(dst, &dh, 2);
        uint8_t q[kQuantBlock];
        for (int i = 0; i < kQuantBlock; ++i) q[i] = (uint8_t)std::min(15, (int)(int8_t)(v[i] * id + 8.5f));
        for (int j = 0; j < 16; ++j) dst[2 + j] = uint8_t(q[j] | (q[j + 16] << 4));
    }
}
} // namespace

size_t quant_block_bytes(WeightType t) {
    check_type(t);
    return t == WeightType::q8_0 ? 34 : 18;
}

int64_t quant_row_qbytes(WeightType t, int64_t K) {
    check_type(t);
    return t == WeightType::q8_0 ? quant_padded_cols(K) : quant_padded_cols(K) / 2;
}

int64_t quant_part_bytes(WeightType t, int64_t rows_per_part, int64_t rows, int64_t K) {
    const int64_t scale_bytes = rows * (quant_padded_cols(K) / kQuantBlock) * 2;
    return quant_scales_offset(t, rows_per_part, K) + (scale_bytes + 3) / 4 * 4;
}

void quantize_row(WeightType t, const float* x, int64_t K, uint8_t* dst) {
    const size_t bb = quant_block_bytes(t);
    for (int64_t k = 0; k < K; k += kQuantBlock, dst += bb) quantize_block(t, x + k, std::min(kQuantBlock, K - k), dst);
}

void dequantize_row(WeightType t, const uint8_t* src, int64_t K, float* y) {
    const size_t bb = quant_block_bytes(t);
    for (int64_t k0 = 0; k0 < K; k0 += kQuantBlock, src += bb) {
        uint16_t dh;
        std::memcpy(&dh, src, 2);
        const float d = f16_to_f32(dh);
        for (int64_t i = 0; i < kQuantBlock && k0 + i < K; ++i) {
            const int q = t == WeightType::q8_0 ? (int)(int8_t)src[2 + i]
                                                : (int)((src[2 + (i & 15)] >> (i < 16 ? 0 : 4)) & 15) - 8;
            y[k0 + i] = d * (float)q;
        }
    }
}

WeightType view_quant_type(const TensorView& t) {
    if (t.ggml_quant == 8) return WeightType::q8_0;
    if (t.ggml_quant == 2) return WeightType::q4_0;
    if (t.ggml_quant != 0) fail(Status::invalid_model, "tensor '" + t.name + "' has unsupported ggml type " + std::to_string(t.ggml_quant));
    return WeightType::f32;
}

void view_to_f32(const TensorView& t, float* dst) {
    const WeightType q = view_quant_type(t);
    if (q == WeightType::f32) return tensor_to_f32(t, dst);
    const int64_t K = t.shape.back(), rows = t.numel() / K, rb = quant_padded_cols(K) / kQuantBlock * quant_block_bytes(q);
    if ((size_t)(rows * rb) != t.nbytes)
        fail(Status::invalid_model, "tensor '" + t.name + "' holds " + std::to_string(t.nbytes) + " bytes, expected " +
                                        std::to_string(rows * rb) + " for " + t.shape_str() + " " + weight_type_suffix(q));
    for (int64_t r = 0; r < rows; ++r) dequantize_row(q, t.data + r * rb, K, dst + r * K);
}

void quant_to_gpu(WeightType t, const uint8_t* blocks, int64_t rows, int64_t K, uint8_t* part, int64_t rows_per_part,
                  int64_t r0) {
    const size_t bb = quant_block_bytes(t);
    const int64_t nb = quant_padded_cols(K) / kQuantBlock, qrow = quant_row_qbytes(t, K), qb = bb - 2;
    uint8_t* scales = part + quant_scales_offset(t, rows_per_part, K);
    for (int64_t r = 0; r < rows; ++r) {
        uint8_t* q = part + (r0 + r) * qrow;
        for (int64_t b = 0; b < nb; ++b) {
            const uint8_t* blk = blocks + (r * nb + b) * bb;
            std::memcpy(q + b * qb, blk + 2, qb);
            std::memcpy(scales + ((r0 + r) * nb + b) * 2, blk, 2); // little-endian half into the packed pair
        }
    }
}

namespace fs = std::filesystem;
namespace {

// DIR -> DIR2: every regular file except the weights (copied as they are: config, tokenizer, template).
void copy_side_files(const std::string& from, const std::string& to) {
    std::error_code ec;
    fs::create_directories(to, ec);
    if (ec) fail(Status::io_error, "cannot create " + to + ": " + ec.message());
    for (const auto& e : fs::directory_iterator(from, ec)) {
        const std::string n = e.path().filename().string();
        if (!e.is_regular_file() || n == "model.gguf" ||
            (n.rfind("model", 0) == 0 && n.find(".safetensors") != std::string::npos))
            continue;
        fs::copy_file(e.path(), fs::path(to) / n, fs::copy_options::overwrite_existing, ec);
        if (ec) fail(Status::io_error, "cannot copy " + e.path().string() + ": " + ec.message());
    }
    if (ec) fail(Status::io_error, "cannot list " + from + ": " + ec.message());
}
} // namespace

QuantizeStats quantize_model_dir(const std::string& in_dir, const std::string& out_dir, WeightType t) {
    check_type(t);
    std::error_code ec;
    if (fs::exists(out_dir, ec) && fs::equivalent(in_dir, out_dir, ec))
        fail(Status::invalid_argument, "quantize: the output directory must differ from the model directory");
    const ModelConfig cfg = load_config(in_dir);
    const TensorStore store = open_weights(in_dir);
    check_tensors(store, cfg.arch == Arch::v1 ? v1_tensor_specs(cfg.v1) : v2_tensor_specs(cfg.v2));

    QuantizeStats st;
    std::vector<std::vector<uint8_t>> data; // owned bytes of every tensor, in name order
    std::vector<GgufTensorToWrite> tensors;
    std::vector<float> f32;
    for (const std::string& name : store.names()) {
        const TensorView& v = store.get(name);
        st.in_bytes += v.nbytes;
        f32.resize(v.numel());
        view_to_f32(v, f32.data());
        std::vector<uint8_t> bytes;
        GgmlType gt = GgmlType::f32;
        if (v.shape.size() == 2) {
            const int64_t K = v.shape[1], rows = v.shape[0];
            const int64_t rb = quant_padded_cols(K) / kQuantBlock * (int64_t)quant_block_bytes(t);
            bytes.resize(rows * rb);
            for (int64_t r = 0; r < rows; ++r) quantize_row(t, f32.data() + r * K, K, bytes.data() + r * rb);
            gt = t == WeightType::q8_0 ? GgmlType::q8_0 : GgmlType::q4_0;
            ++st.quantized;
        } else {
            bytes.resize(f32.size() * 4);
            std::memcpy(bytes.data(), f32.data(), bytes.size());
        }
        data.push_back(std::move(bytes));
        tensors.push_back({name, gt, v.shape, nullptr});
    }
    for (size_t i = 0; i < tensors.size(); ++i) tensors[i].data = data[i].data();
    st.tensors = (int)tensors.size();
    copy_side_files(in_dir, out_dir);
    const std::string path = out_dir + "/model.gguf";
    write_gguf(path, tensors, {{"general.name", fs::weakly_canonical(in_dir, ec).filename().string()},
                               {"convgpt.weights", weight_type_suffix(t)}});
    st.out_bytes = fs::file_size(path, ec);
    return st;
}

} // namespace vkc
