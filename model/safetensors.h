// safetensors reading (mmap, single file or sharded index) and writing.
// Every malformed input is reported as vkc::Error naming the file and the tensor.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/status.h"

namespace vkc {

enum class DType { f32, f16, bf16, f64, i64, i32, i16, i8, u8, boolean };
const char* dtype_name(DType t);   // safetensors spelling: "F32", "BF16", "BOOL", ...
size_t dtype_size(DType t);
bool dtype_is_float(DType t);      // F32 / F16 / BF16 / F64
std::string shape_to_string(const std::vector<int64_t>& shape); // "[512, 256]"

struct TensorView {
    std::string name;
    DType dtype = DType::f32;
    std::vector<int64_t> shape;
    const uint8_t* data = nullptr; // points into the mapped file
    size_t nbytes = 0;
    std::string file;              // which file it came from (for error messages)
    // GGUF only (model/gguf.h): 0 = dense (dtype), else the ggml type (2 = Q4_0, 8 = Q8_0) of the blocks in
    // data (rows x padded-K/32 blocks); shape stays logical. The f32/f16 conversions reject such views.
    uint32_t ggml_quant = 0;
    int64_t numel() const;
    std::string shape_str() const; // "[512, 256]"
};

// One mapped .safetensors file. The header is validated fully on open: JSON well formed, dtypes known,
// offsets inside the file, begin <= end, sizes == numel * dtype size, no overlaps.
// Errors: io_error when the file is missing, unreadable or truncated (shorter than 8 bytes, header or
// tensor data running past the end of the file); invalid_model for any other malformed content.
// TensorView::data is NOT necessarily aligned (offsets are arbitrary): read it with memcpy.
class SafetensorsFile {
public:
    static std::unique_ptr<SafetensorsFile> open(const std::string& path);
    // The same parse and checks on a file image in memory (copied; `name` stands for the path in errors
    // and TensorView::file). Used by the fuzz target tests/fuzz/fuzz_safetensors.cpp.
    static std::unique_ptr<SafetensorsFile> from_memory(const uint8_t* data, size_t size, const std::string& name);
    ~SafetensorsFile();
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;

    const std::map<std::string, TensorView>& tensors() const { return tensors_; }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    const std::string& path() const { return path_; }

private:
    SafetensorsFile() = default;
    void parse(const uint8_t* base, uint64_t file_size); // header + tensor table of a file image
    std::string path_;
    std::vector<uint8_t> bytes_; // from_memory's copy
    void* map_ = nullptr;
    size_t map_size_ = 0;
    std::map<std::string, TensorView> tensors_;
    std::map<std::string, std::string> metadata_;
};

// model.safetensors.index.json: its weight_map as (tensor, shard file name) pairs sorted by tensor; every
// shard name is a plain file name (no '/' prefix, no ".."). Throws invalid_model naming `where`.
std::vector<std::pair<std::string, std::string>> parse_safetensors_index(const std::string& json_text,
                                                                         const std::string& where);

// All tensors of a checkpoint directory: model.safetensors, or model.safetensors.index.json + shards.
class TensorStore {
public:
    static TensorStore open_dir(const std::string& dir);
    const TensorView* find(const std::string& name) const;  // nullptr when absent
    const TensorView& get(const std::string& name) const;   // throws invalid_model naming the tensor
    std::vector<std::string> names() const;
    const std::string& dir() const { return dir_; }
    // A store over views that another container owns (model/gguf.cpp); `keep` keeps their memory alive.
    static TensorStore from_views(const std::string& dir, std::vector<TensorView> views, std::shared_ptr<void> keep);
private:
    std::string dir_;
    std::shared_ptr<void> keep_;
    std::shared_ptr<std::vector<TensorView>> views_;
    std::vector<std::shared_ptr<SafetensorsFile>> files_;
    std::map<std::string, const TensorView*> index_;
};

// Conversions of any float tensor (F32/F16/BF16/F64) to f32 or to IEEE half bits (round to nearest even).
// Any other dtype throws invalid_model naming the tensor and its dtype. dst holds numel() elements.
void tensor_to_f32(const TensorView& t, float* dst);
void tensor_to_f16(const TensorView& t, uint16_t* dst);
uint16_t f32_to_f16(float f);
float f16_to_f32(uint16_t h);
float bf16_to_f32(uint16_t b);

// Writer used by `vkconvgpt-run eval` and tests. Tensors are stored in the given order; data holds
// numel * dtype_size bytes. Throws invalid_argument for bad input, io_error when the file cannot be written.
struct TensorToWrite {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    const void* data;
};
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

} // namespace vkc
