// GGUF (version 3) reading and writing: the container of quantized models (`vkconvgpt-run quantize`).
//
// Layout (little-endian): magic "GGUF", u32 version, u64 tensor count, u64 metadata count; metadata
// key/value pairs (string key, u32 value type, value); tensor infos (name, u32 n_dims, u64 ne[n_dims]
// with ne[0] the contiguous dimension, u32 ggml type, u64 offset from the data section); the data section
// at the next multiple of general.alignment (default 32).
//
// ConvGPT convention (no other tool knows the arch): general.architecture = "convgpt"; tensors keep their
// checkpoint names; a [rows, K] matrix is stored with ne = [Kp, rows] where Kp = K rounded up to the block
// size (32) for Q8_0 / Q4_0 (ggml requires ne[0] % 32 == 0), and the logical K is recorded as the u32
// metadata key "convgpt.cols.<tensor name>" whenever Kp != K (the padding quantizes to zeros). Vectors,
// convolution kernels and everything else stay F32 with their shape reversed into ne.
//
// The reader validates everything against the buffer size: any malformed input throws vkc::Error
// (io_error: truncated; invalid_model: bad magic / version / type / shape / offset / duplicate).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/safetensors.h"

namespace vkc {

enum class GgmlType : uint32_t { f32 = 0, f16 = 1, q4_0 = 2, q8_0 = 8 }; // the ggml types this reader knows

// One metadata value: scalars are widened (integers to i64/u64, floats to f64); arrays keep numbers only.
struct GgufValue {
    enum Kind { u64, i64, f64, boolean, string, array } kind = u64;
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0;
    bool b = false;
    std::string s;
    std::vector<double> arr;   // numeric arrays
    std::vector<std::string> arr_s; // string arrays
};

struct GgufTensor {
    std::string name;
    GgmlType type = GgmlType::f32;
    std::vector<uint64_t> ne;  // ne[0] contiguous
    uint64_t offset = 0;       // from the data section
    const uint8_t* data = nullptr;
    size_t nbytes = 0;
};

class GgufFile {
public:
    // Parses a complete file image (the data stays owned by the caller and must outlive the object).
    // `what` names the source in error messages.
    static std::unique_ptr<GgufFile> parse(const uint8_t* data, size_t size, const std::string& what = "gguf");
    // Maps a file and parses it (the mapping lives as long as the object).
    static std::unique_ptr<GgufFile> open(const std::string& path);
    ~GgufFile();
    GgufFile(const GgufFile&) = delete;
    GgufFile& operator=(const GgufFile&) = delete;

    uint32_t version() const { return version_; }
    const std::map<std::string, GgufValue>& metadata() const { return kv_; }
    const std::vector<GgufTensor>& tensors() const { return tensors_; }
    const GgufValue* find(const std::string& key) const;

private:
    GgufFile() = default;
    uint32_t version_ = 0;
    std::map<std::string, GgufValue> kv_;
    std::vector<GgufTensor> tensors_;
    void* map_ = nullptr;
    size_t map_size_ = 0;
};

// Tensors of a ConvGPT GGUF as the loader sees them: logical shapes (padding and ne order undone),
// F32/F16 as plain float views, Q8_0/Q4_0 with TensorView::quant set. Shared with the store.
TensorStore gguf_tensor_store(std::shared_ptr<GgufFile> file, const std::string& dir, const std::string& path);

// Writer. A tensor is F32 (data: numel floats), F16 (numel halves), or Q8_0 / Q4_0 (data: rows x Kp/32
// blocks); shape is the logical shape (row-major), cols the logical K of quantized matrices.
struct GgufTensorToWrite {
    std::string name;
    GgmlType type;
    std::vector<int64_t> shape;
    const void* data;
};
void write_gguf(const std::string& path, const std::vector<GgufTensorToWrite>& tensors,
                const std::map<std::string, std::string>& string_metadata);
// The same into memory (tests, fuzz seeds).
std::vector<uint8_t> gguf_bytes(const std::vector<GgufTensorToWrite>& tensors,
                                const std::map<std::string, std::string>& string_metadata);

} // namespace vkc
