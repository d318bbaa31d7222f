// safetensors: mmap reader with full header validation, sharded index, float conversions, writer.
// Format: [u64 LE header length N][N bytes JSON header][data]. Header: {"name": {"dtype": "F32",
// "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {str: str}}; offsets are relative to the
// start of the data region.
#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace vkc {
namespace {

using json = nlohmann::json;

constexpr uint64_t k_max_header = 100ull * 1000 * 1000; // 100 MB: anything larger is garbage

struct DTypeInfo {
    DType t;
    const char* name;
    size_t size;
};
constexpr DTypeInfo k_dtypes[] = {
    {DType::f32, "F32", 4}, {DType::f16, "F16", 2}, {DType::bf16, "BF16", 2}, {DType::f64, "F64", 8},
    {DType::i64, "I64", 8}, {DType::i32, "I32", 4}, {DType::i16, "I16", 2},   {DType::i8, "I8", 1},
    {DType::u8, "U8", 1},   {DType::boolean, "BOOL", 1},
};

bool parse_dtype(const std::string& s, DType* out) {
    for (const auto& d : k_dtypes)
        if (s == d.name) { *out = d.t; return true; }
    return false;
}

std::string errno_str() { return std::strerror(errno); }

uint64_t read_u64_le(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

// Reads a JSON value that must be a non-negative integer (data offsets, dims).
bool json_to_u64(const json& j, uint64_t* out) {
    if (j.is_number_unsigned()) { *out = j.get<uint64_t>(); return true; }
    if (j.is_number_integer()) {
        int64_t v = j.get<int64_t>();
        if (v < 0) return false;
        *out = static_cast<uint64_t>(v);
        return true;
    }
    return false;
}

// Parses the header, rejecting duplicate top-level keys (two entries for one tensor name).
json parse_header(const std::string& text, const std::string& path) {
    std::string dup;
    json::parser_callback_t cb = [&dup, seen = std::set<std::string>()](int depth, json::parse_event_t ev,
                                                                        json& parsed) mutable {
        if (ev == json::parse_event_t::key && depth == 1) {
            const std::string k = parsed.get<std::string>();
            if (!seen.insert(k).second && dup.empty()) dup = k;
        }
        return true;
    };
    json h;
    try {
        h = json::parse(text, cb);
    } catch (const json::exception& e) {
        fail(Status::invalid_model, path + ": header is not valid JSON: " + e.what());
    }
    if (!h.is_object()) fail(Status::invalid_model, path + ": header is not a JSON object");
    if (!dup.empty()) fail(Status::invalid_model, path + ": tensor '" + dup + "' appears twice in the header");
    return h;
}

template <typename F>
void convert_each(const TensorView& t, F&& store) {
    if (t.ggml_quant)
        fail(Status::internal, "tensor '" + t.name + "' holds quantized blocks: dequantize it (model/quant.h)");
    const int64_t n = t.numel();
    const uint8_t* p = t.data;
    switch (t.dtype) {
    case DType::f32:
        for (int64_t i = 0; i < n; ++i) { float v; std::memcpy(&v, p + 4 * i, 4); store(i, v); }
        return;
    case DType::f64:
        for (int64_t i = 0; i < n; ++i) { double v; std::memcpy(&v, p + 8 * i, 8); store(i, static_cast<float>(v)); }
        return;
    case DType::f16:
        for (int64_t i = 0; i < n; ++i) { uint16_t v; std::memcpy(&v, p + 2 * i, 2); store(i, f16_to_f32(v)); }
        return;
    case DType::bf16:
        for (int64_t i = 0; i < n; ++i) { uint16_t v; std::memcpy(&v, p + 2 * i, 2); store(i, bf16_to_f32(v)); }
        return;
    default:
        fail(Status::invalid_model, "tensor '" + t.name + "' in " + t.file + " has dtype " + dtype_name(t.dtype) +
                                        ", expected a float dtype (F32, F16, BF16 or F64)");
    }
}

bool file_exists(const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0;
}

} // namespace

const char* dtype_name(DType t) {
    for (const auto& d : k_dtypes)
        if (d.t == t) return d.name;
    return "?";
}

size_t dtype_size(DType t) {
    for (const auto& d : k_dtypes)
        if (d.t == t) return d.size;
    return 0;
}

bool dtype_is_float(DType t) {
    return t == DType::f32 || t == DType::f16 || t == DType::bf16 || t == DType::f64;
}

std::string shape_to_string(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

int64_t TensorView::numel() const {
    for (int64_t d : shape)
        if (d == 0) return 0; // avoid overflow in products like [2^40, 2^40, 0]
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

std::string TensorView::shape_str() const { return shape_to_string(shape); }

// ---------------------------------------------------------------------------------------------------------
// SafetensorsFile

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
    std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
    f->path_ = path;

    int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) fail(Status::io_error, "cannot open " + path + ": " + errno_str());
    struct stat st;
    if (::fstat(fd, &st) != 0) {
        std::string e = errno_str();
        ::close(fd);
        fail(Status::io_error, "cannot stat " + path + ": " + e);
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        fail(Status::io_error, path + " is not a regular file");
    }
    const uint64_t file_size = static_cast<uint64_t>(st.st_size);
    if (file_size < 8) {
        ::close(fd);
        fail(Status::io_error, path + ": file is truncated (" + std::to_string(file_size) +
                                   " bytes, shorter than the 8-byte header length)");
    }
    if (file_size > static_cast<uint64_t>(SIZE_MAX)) {
        ::close(fd);
        fail(Status::io_error, path + ": file too large to map on this platform");
    }
#ifdef MAP_POPULATE // Linux / Android: map the pages in one go (weights are read whole, page by page faults cost more)
    const int populate = MAP_POPULATE;
#else
    const int populate = 0;
#endif
    void* m = ::mmap(nullptr, static_cast<size_t>(file_size), PROT_READ, MAP_PRIVATE | populate, fd, 0);
    const std::string map_err = m == MAP_FAILED ? errno_str() : std::string();
    ::close(fd); // the mapping stays valid after close
    if (m == MAP_FAILED) fail(Status::io_error, "cannot mmap " + path + ": " + map_err);
    f->map_ = m;
    f->map_size_ = static_cast<size_t>(file_size);
    // From here on errors throw through unique_ptr, whose destructor unmaps.
    f->parse(static_cast<const uint8_t*>(m), file_size);
    return f;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::from_memory(const uint8_t* data, size_t size, const std::string& name) {
    std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
    f->path_ = name;
    if (size < 8)
        fail(Status::io_error, name + ": file is truncated (" + std::to_string(size) +
                                   " bytes, shorter than the 8-byte header length)");
    f->bytes_.assign(data, data + size);
    f->parse(f->bytes_.data(), size);
    return f;
}

void SafetensorsFile::parse(const uint8_t* base, uint64_t file_size) {
    SafetensorsFile* f = this;
    const std::string& path = path_;
    const uint64_t header_len = read_u64_le(base);
    if (header_len > k_max_header)
        fail(Status::invalid_model, path + ": header length " + std::to_string(header_len) +
                                        " bytes is absurd (limit 100 MB); not a safetensors file?");
    if (header_len > file_size - 8)
        fail(Status::io_error, path + ": header length " + std::to_string(header_len) +
                                   " extends beyond the end of the file (" + std::to_string(file_size) +
                                   " bytes); file truncated or not safetensors");
    std::string text(reinterpret_cast<const char*>(base + 8), static_cast<size_t>(header_len));
    // Some writers pad with NULs instead of spaces.
    while (!text.empty() && text.back() == '\0') text.pop_back();
    const json h = parse_header(text, path);

    const uint64_t data_start = 8 + header_len;
    const uint64_t data_size = file_size - data_start;
    struct Range { uint64_t begin, end; const std::string* name; };
    std::vector<Range> ranges;

    for (auto it = h.begin(); it != h.end(); ++it) {
        const std::string& name = it.key();
        const json& v = it.value();
        if (name == "__metadata__") {
            if (v.is_null()) continue;
            if (!v.is_object()) fail(Status::invalid_model, path + ": __metadata__ is not a JSON object");
            for (auto m2 = v.begin(); m2 != v.end(); ++m2)
                f->metadata_[m2.key()] = m2.value().is_string() ? m2.value().get<std::string>() : m2.value().dump();
            continue;
        }
        const std::string where = path + ": tensor '" + name + "'";
        if (!v.is_object()) fail(Status::invalid_model, where + ": header entry is not a JSON object");
        auto dt = v.find("dtype");
        auto sh = v.find("shape");
        auto off = v.find("data_offsets");
        if (dt == v.end() || !dt->is_string()) fail(Status::invalid_model, where + ": missing or non-string 'dtype'");
        if (sh == v.end() || !sh->is_array()) fail(Status::invalid_model, where + ": missing or non-array 'shape'");
        if (off == v.end() || !off->is_array() || off->size() != 2)
            fail(Status::invalid_model, where + ": 'data_offsets' must be an array [begin, end]");

        TensorView t;
        t.name = name;
        t.file = path;
        const std::string dts = dt->get<std::string>();
        if (!parse_dtype(dts, &t.dtype))
            fail(Status::invalid_model, path + ": unknown dtype '" + dts + "' for tensor '" + name + "'");

        // numel with overflow check: product must stay below the file size anyway.
        uint64_t numel = 1;
        bool huge = false;
        for (const json& d : *sh) {
            if (d.is_number_integer() && !d.is_number_unsigned() && d.get<int64_t>() < 0)
                fail(Status::invalid_model, where + ": negative dimension in shape " + sh->dump());
            uint64_t dim = 0;
            if (!json_to_u64(d, &dim) || dim > static_cast<uint64_t>(INT64_MAX))
                fail(Status::invalid_model, where + ": shape " + sh->dump() + " is not a list of integers");
            t.shape.push_back(static_cast<int64_t>(dim));
            if (dim != 0 && numel > (UINT64_MAX / 8) / dim) huge = true;
            else numel *= dim;
        }
        if (huge && numel != 0)
            fail(Status::invalid_model, where + ": shape " + t.shape_str() + " is too large");

        uint64_t begin = 0, end = 0;
        if (!json_to_u64((*off)[0], &begin) || !json_to_u64((*off)[1], &end))
            fail(Status::invalid_model, where + ": data_offsets " + off->dump() + " are not non-negative integers");
        if (begin > end)
            fail(Status::invalid_model, where + ": data_offsets " + off->dump() + " are reversed (begin > end)");
        if (end > data_size)
            fail(Status::io_error, where + ": data_offsets " + off->dump() + " out of range: data section has only " +
                                       std::to_string(data_size) + " bytes (file truncated?)");
        const uint64_t want = huge ? 0 : numel * dtype_size(t.dtype);
        if (end - begin != want)
            fail(Status::invalid_model, where + ": data_offsets " + off->dump() + " span " + std::to_string(end - begin) +
                                            " bytes, but shape " + t.shape_str() + " of " + dts + " needs " +
                                            std::to_string(want));
        t.data = base + data_start + begin;
        t.nbytes = static_cast<size_t>(end - begin);
        auto ins = f->tensors_.emplace(name, std::move(t));
        ranges.push_back({begin, end, &ins.first->first});
    }

    // Overlaps: sort by begin; each non-empty range must start at or after the previous end.
    std::sort(ranges.begin(), ranges.end(),
              [](const Range& a, const Range& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
    const Range* prev = nullptr;
    for (const Range& r : ranges) {
        if (r.begin == r.end) continue;
        if (prev && r.begin < prev->end)
            fail(Status::invalid_model, path + ": tensors '" + *prev->name + "' and '" + *r.name +
                                            "' overlap in the data section");
        prev = &r;
    }
}

SafetensorsFile::~SafetensorsFile() {
    if (map_) ::munmap(map_, map_size_);
}

// ---------------------------------------------------------------------------------------------------------
// TensorStore

TensorStore TensorStore::open_dir(const std::string& dir) {
    TensorStore s;
    s.dir_ = dir;
    const std::string index_path = dir + "/model.safetensors.index.json";
    const std::string single_path = dir + "/model.safetensors";

    if (!file_exists(index_path)) {
        if (!file_exists(single_path))
            fail(Status::io_error, "no model.safetensors or model.safetensors.index.json in " + dir);
        s.files_.push_back(SafetensorsFile::open(single_path));
        for (const auto& kv : s.files_[0]->tensors()) s.index_[kv.first] = &kv.second;
        return s;
    }

    std::ifstream in(index_path, std::ios::binary);
    if (!in) fail(Status::io_error, "cannot read " + index_path);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::vector<std::pair<std::string, std::string>> wm = parse_safetensors_index(ss.str(), index_path);

    // Open every shard once, in order of first mention.
    std::map<std::string, std::shared_ptr<SafetensorsFile>> shards;
    for (const auto& [tensor, shard] : wm) {
        if (!shards.count(shard)) {
            std::shared_ptr<SafetensorsFile> f = SafetensorsFile::open(dir + "/" + shard);
            shards[shard] = f;
            s.files_.push_back(f);
        }
    }
    // Every tensor of every shard is indexed; a name in two shards is ambiguous.
    for (const auto& f : s.files_) {
        for (const auto& kv : f->tensors()) {
            auto ins = s.index_.emplace(kv.first, &kv.second);
            if (!ins.second)
                fail(Status::invalid_model, "tensor '" + kv.first + "' appears in two shards: " +
                                                ins.first->second->file + " and " + f->path());
        }
    }
    // The index must tell the truth about where each tensor is.
    for (const auto& [tensor, shard] : wm) {
        const auto& sf = shards[shard];
        if (!sf->tensors().count(tensor))
            fail(Status::invalid_model, index_path + ": tensor '" + tensor + "' is mapped to " + sf->path() +
                                            ", which does not contain it");
    }
    return s;
}

std::vector<std::pair<std::string, std::string>> parse_safetensors_index(const std::string& json_text,
                                                                         const std::string& where) {
    json idx;
    try {
        idx = json::parse(json_text);
    } catch (const json::exception& e) {
        fail(Status::invalid_model, where + ": not valid JSON: " + e.what());
    }
    if (!idx.is_object()) fail(Status::invalid_model, where + ": not a JSON object");
    auto wm = idx.find("weight_map");
    if (wm == idx.end() || !wm->is_object() || wm->empty())
        fail(Status::invalid_model, where + ": missing or empty \"weight_map\" object");
    std::vector<std::pair<std::string, std::string>> out;
    for (auto it = wm->begin(); it != wm->end(); ++it) {
        if (!it.value().is_string())
            fail(Status::invalid_model, where + ": weight_map entry for '" + it.key() + "' is not a string");
        const std::string shard = it.value().get<std::string>();
        if (shard.empty() || shard[0] == '/' || shard.find("..") != std::string::npos)
            fail(Status::invalid_model, where + ": shard name '" + shard + "' for tensor '" + it.key() +
                                            "' must be a plain file name in the model directory");
        out.emplace_back(it.key(), shard);
    }
    return out;
}

const TensorView* TensorStore::find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : it->second;
}

const TensorView& TensorStore::get(const std::string& name) const {
    const TensorView* t = find(name);
    if (!t) fail(Status::invalid_model, "missing tensor '" + name + "' in " + dir_);
    return *t;
}

TensorStore TensorStore::from_views(const std::string& dir, std::vector<TensorView> views, std::shared_ptr<void> keep) {
    TensorStore s;
    s.dir_ = dir;
    s.keep_ = std::move(keep);
    s.views_ = std::make_shared<std::vector<TensorView>>(std::move(views));
    for (const TensorView& v : *s.views_)
        if (!s.index_.emplace(v.name, &v).second) fail(Status::invalid_model, "tensor '" + v.name + "' appears twice in " + v.file);
    return s;
}

std::vector<std::string> TensorStore::names() const {
    std::vector<std::string> out;
    out.reserve(index_.size());
    for (const auto& kv : index_) out.push_back(kv.first);
    return out;
}

// ---------------------------------------------------------------------------------------------------------
// Conversions

void tensor_to_f32(const TensorView& t, float* dst) {
    convert_each(t, [dst](int64_t i, float v) { dst[i] = v; });
}

void tensor_to_f16(const TensorView& t, uint16_t* dst) {
    if (t.dtype == DType::f16 && !t.ggml_quant) { // bit copy keeps NaN payloads
        if (t.nbytes > 0) std::memcpy(dst, t.data, t.nbytes); // an empty tensor may have no data pointer
        return;
    }
    // F64 goes through f32 (double rounding is possible but far below f16 resolution concerns for weights).
    convert_each(t, [dst](int64_t i, float v) { dst[i] = f32_to_f16(v); });
}

uint16_t f32_to_f16(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
    const uint32_t a = x & 0x7fffffffu;
    if (a >= 0x7f800000u) { // inf / nan: keep top payload bits, force quiet NaN
        if (a == 0x7f800000u) return sign | 0x7c00u;
        return static_cast<uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    }
    if (a >= 0x477ff000u) return sign | 0x7c00u; // >= 65520 rounds (ties to even) to inf
    if (a < 0x38800000u) {                        // below 2^-14: half subnormal or zero
        if (a <= 0x33000000u) return sign;         // <= 2^-25 rounds to 0 (tie at 2^-25 goes to even 0)
        const uint32_t e = a >> 23;                // 102..112
        const uint32_t mant = (a & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126 - e;            // value * 2^24 = mant >> shift
        uint32_t m = mant >> shift;
        const uint32_t rem = mant & ((1u << shift) - 1);
        const uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (m & 1u))) ++m; // m may become 0x400 = smallest normal
        return static_cast<uint16_t>(sign | m);
    }
    uint32_t h = (a - 0x38000000u) >> 13; // rebias exponent 127 -> 15
    const uint32_t rem = a & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h; // carry into exponent is correct
    return static_cast<uint16_t>(sign | h);
}

float f16_to_f32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t e = (h >> 10) & 0x1fu;
    uint32_t m = h & 0x3ffu;
    uint32_t x;
    if (e == 0x1f) {
        x = sign | 0x7f800000u | (m << 13);
    } else if (e != 0) {
        x = sign | ((e + 112) << 23) | (m << 13);
    } else if (m == 0) {
        x = sign;
    } else { // subnormal: normalise
        uint32_t ee = 113;
        while (!(m & 0x400u)) { m <<= 1; --ee; }
        x = sign | (ee << 23) | ((m & 0x3ffu) << 13);
    }
    float f;
    std::memcpy(&f, &x, 4);
    return f;
}

float bf16_to_f32(uint16_t b) {
    const uint32_t x = static_cast<uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &x, 4);
    return f;
}

// ---------------------------------------------------------------------------------------------------------
// Writer

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    json h = json::object();
    if (!metadata.empty()) {
        json m = json::object();
        for (const auto& kv : metadata) m[kv.first] = kv.second;
        h["__metadata__"] = m;
    }
    std::vector<uint64_t> sizes;
    uint64_t off = 0;
    for (const auto& t : tensors) {
        if (t.name.empty() || t.name == "__metadata__")
            fail(Status::invalid_argument, path + ": invalid tensor name '" + t.name + "'");
        if (h.contains(t.name)) fail(Status::invalid_argument, path + ": tensor '" + t.name + "' given twice");
        uint64_t n = 1;
        for (int64_t d : t.shape) {
            if (d < 0) fail(Status::invalid_argument, path + ": tensor '" + t.name + "' has a negative dimension");
            n *= static_cast<uint64_t>(d);
        }
        const uint64_t bytes = n * dtype_size(t.dtype);
        if (bytes && !t.data) fail(Status::invalid_argument, path + ": tensor '" + t.name + "' has no data");
        h[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {off, off + bytes}}};
        sizes.push_back(bytes);
        off += bytes;
    }
    std::string text = h.dump();
    text.append((8 - text.size() % 8) % 8, ' '); // data starts 8-byte aligned
    uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));

    FILE* fp = std::fopen(path.c_str(), "wb");
    if (!fp) fail(Status::io_error, "cannot create " + path + ": " + errno_str());
    bool ok = std::fwrite(len, 1, 8, fp) == 8 && std::fwrite(text.data(), 1, text.size(), fp) == text.size();
    for (size_t i = 0; ok && i < tensors.size(); ++i)
        if (sizes[i]) ok = std::fwrite(tensors[i].data, 1, static_cast<size_t>(sizes[i]), fp) == sizes[i];
    const std::string err = ok ? std::string() : errno_str();
    if (std::fclose(fp) != 0 && ok) ok = false;
    if (!ok) fail(Status::io_error, "cannot write " + path + (err.empty() ? std::string() : ": " + err));
}

} // namespace vkc
