// safetensors reading (mmap, single file or sharded index) and writing.
// Every malformed input is reported as vkc::Error naming the file and the tensor.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
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
    ~SafetensorsFile();
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;

    const std::map<std::string, TensorView>& tensors() const { return tensors_; }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    const std::string& path() const { return path_; }

private:
    SafetensorsFile() = default;
    std::string path_;
    void* map_ = nullptr;
    size_t map_size_ = 0;
    std::map<std::string, TensorView> tensors_;
    std::map<std::string, std::string> metadata_;
};

// All tensors of a checkpoint directory: model.safetensors, or model.safetensors.index.json + shards.
class TensorStore {
public:
    static TensorStore open_dir(const std::string& dir);
    const TensorView* find(const std::string& name) const;  // nullptr when absent
    const TensorView& get(const std::string& name) const;   // throws invalid_model naming the tensor
    std::vector<std::string> names() const;
    const std::string& dir() const { return dir_; }
private:
    std::string dir_;
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
