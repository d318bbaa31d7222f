#include "model/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

namespace vkc {

namespace {
constexpr uint32_t kMagic = 0x46554747; // "GGUF" little-endian
constexpr uint32_t kMaxDims = 4;
enum VT : uint32_t { U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 };

// Bounds-checked little-endian reader over the file image.
struct Cursor {
    const uint8_t* p;
    size_t size, pos = 0;
    const std::string& what;
    void need(size_t n, const char* field) const {
        if (n > size - pos)
            fail(Status::io_error, what + ": truncated GGUF (reading " + field + " at byte " + std::to_string(pos) +
                                       " needs " + std::to_string(n) + " bytes, " + std::to_string(size - pos) +
                                       " left)");
    }
    template <class T>
    T get(const char* field) {
        need(sizeof(T), field);
        T v;
        std::memcpy(&v, p + pos, sizeof(T));
        pos += sizeof(T);
        return v;
    }
    std::string str(const char* field) {
        const uint64_t n = get<uint64_t>(field);
        need(n, field);
        std::string s(reinterpret_cast<const char*>(p + pos), (size_t)n);
        pos += (size_t)n;
        return s;
    }
};

size_t scalar_size(uint32_t t) {
    switch (t) {
    case U8: case I8: case BOOL: return 1;
    case U16: case I16: return 2;
    case U32: case I32: case F32: return 4;
    case U64: case I64: case F64: return 8;
    default: return 0;
    }
}

// Reads one scalar of type t into v (numeric kinds widened).
void read_scalar(Cursor& c, uint32_t t, GgufValue& v, const std::string& key) {
    switch (t) {
    case U8: v.kind = GgufValue::u64; v.u = c.get<uint8_t>("u8"); v.f = (double)v.u; return;
    case U16: v.kind = GgufValue::u64; v.u = c.get<uint16_t>("u16"); v.f = (double)v.u; return;
    case U32: v.kind = GgufValue::u64; v.u = c.get<uint32_t>("u32"); v.f = (double)v.u; return;
    case U64: v.kind = GgufValue::u64; v.u = c.get<uint64_t>("u64"); v.f = (double)v.u; return;
    case I8: v.kind = GgufValue::i64; v.i = c.get<int8_t>("i8"); v.f = (double)v.i; return;
    case I16: v.kind = GgufValue::i64; v.i = c.get<int16_t>("i16"); v.f = (double)v.i; return;
    case I32: v.kind = GgufValue::i64; v.i = c.get<int32_t>("i32"); v.f = (double)v.i; return;
    case I64: v.kind = GgufValue::i64; v.i = c.get<int64_t>("i64"); v.f = (double)v.i; return;
    case F32: v.kind = GgufValue::f64; v.f = c.get<float>("f32"); return;
    case F64: v.kind = GgufValue::f64; v.f = c.get<double>("f64"); return;
    case BOOL: {
        const uint8_t b = c.get<uint8_t>("bool");
        if (b > 1) fail(Status::invalid_model, c.what + ": metadata '" + key + "': bool byte " + std::to_string(b));
        v.kind = GgufValue::boolean;
        v.b = b != 0;
        return;
    }
    case STR: v.kind = GgufValue::string; v.s = c.str("string value"); return;
    default:
        fail(Status::invalid_model, c.what + ": metadata '" + key + "' has unknown value type " + std::to_string(t));
    }
}

size_t type_bytes(GgmlType t, uint64_t numel) {
    switch (t) {
    case GgmlType::f32: return numel * 4;
    case GgmlType::f16: return numel * 2;
    case GgmlType::q8_0: return numel / 32 * 34;
    case GgmlType::q4_0: return numel / 32 * 18;
    }
    return 0;
}

bool known_type(uint32_t t) { return t == 0 || t == 1 || t == 2 || t == 8; }
} // namespace

GgufFile::~GgufFile() {
    if (map_) ::munmap(map_, map_size_);
}

const GgufValue* GgufFile::find(const std::string& key) const {
    auto it = kv_.find(key);
    return it == kv_.end() ? nullptr : &it->second;
}

std::unique_ptr<GgufFile> GgufFile::parse(const uint8_t* data, size_t size, const std::string& what) {
    std::unique_ptr<GgufFile> f(new GgufFile());
    Cursor c{data, size, 0, what};
    const uint32_t magic = c.get<uint32_t>("magic");
    if (magic != kMagic) fail(Status::invalid_model, what + ": bad magic (not a GGUF file)");
    f->version_ = c.get<uint32_t>("version");
    if (f->version_ != 2 && f->version_ != 3)
        fail(Status::invalid_model, what + ": GGUF version " + std::to_string(f->version_) + " (supported: 2, 3)");
    const uint64_t n_tensors = c.get<uint64_t>("tensor count"), n_kv = c.get<uint64_t>("metadata count");
    // every entry takes at least 8 bytes: counts beyond that are truncation, not a reason to allocate
    if (n_tensors > size / 8 || n_kv > size / 8)
        fail(Status::io_error, what + ": truncated GGUF (" + std::to_string(n_tensors) + " tensors, " +
                                   std::to_string(n_kv) + " metadata entries in " + std::to_string(size) + " bytes)");
    for (uint64_t i = 0; i < n_kv; ++i) {
        const std::string key = c.str("metadata key");
        const uint32_t t = c.get<uint32_t>("metadata value type");
        GgufValue v;
        if (t == ARR) {
            const uint32_t et = c.get<uint32_t>("array element type");
            const uint64_t n = c.get<uint64_t>("array length");
            v.kind = GgufValue::array;
            if (et == STR) {
                if (n > (size - c.pos) / 8) c.need(size - c.pos + 1, "string array");
                for (uint64_t j = 0; j < n; ++j) v.arr_s.push_back(c.str("array string"));
            } else {
                const size_t es = scalar_size(et);
                if (es == 0)
                    fail(Status::invalid_model, what + ": metadata '" + key + "' is an array of unsupported type " +
                                                    std::to_string(et));
                if (n > (size - c.pos) / es) c.need(size - c.pos + 1, "array items");
                v.arr.reserve((size_t)n);
                for (uint64_t j = 0; j < n; ++j) {
                    GgufValue e;
                    read_scalar(c, et, e, key);
                    v.arr.push_back(e.kind == GgufValue::boolean ? (double)e.b : e.f);
                }
            }
        } else {
            read_scalar(c, t, v, key);
        }
        if (!f->kv_.emplace(key, std::move(v)).second)
            fail(Status::invalid_model, what + ": duplicate metadata key '" + key + "'");
    }
    uint64_t align = 32;
    if (const GgufValue* a = f->find("general.alignment")) {
        if (a->kind != GgufValue::u64 || a->u == 0 || (a->u & (a->u - 1)) != 0 || a->u > 65536)
            fail(Status::invalid_model, what + ": general.alignment must be a power of two <= 65536");
        align = a->u;
    }
    std::map<std::string, int> names;
    for (uint64_t i = 0; i < n_tensors; ++i) {
        GgufTensor t;
        t.name = c.str("tensor name");
        const uint32_t nd = c.get<uint32_t>("tensor n_dims");
        if (nd == 0 || nd > kMaxDims)
            fail(Status::invalid_model, what + ": tensor '" + t.name + "' has " + std::to_string(nd) + " dimensions");
        uint64_t numel = 1;
        for (uint32_t d = 0; d < nd; ++d) {
            const uint64_t n = c.get<uint64_t>("tensor dimension");
            if (n == 0 || n > (uint64_t(1) << 40) || numel > (uint64_t(1) << 40) / n)
                fail(Status::invalid_model, what + ": tensor '" + t.name + "' has a bad dimension " + std::to_string(n));
            numel *= n;
            t.ne.push_back(n);
        }
        const uint32_t type = c.get<uint32_t>("tensor type");
        if (!known_type(type))
            fail(Status::invalid_model, what + ": tensor '" + t.name + "' has unsupported ggml type " + std::to_string(type) +
                                            " (supported: F32, F16, Q8_0, Q4_0)");
        t.type = GgmlType(type);
        if ((t.type == GgmlType::q8_0 || t.type == GgmlType::q4_0) && t.ne[0] % 32 != 0)
            fail(Status::invalid_model, what + ": quantized tensor '" + t.name + "' has ne[0] = " +
                                            std::to_string(t.ne[0]) + ", not a multiple of 32");
        t.offset = c.get<uint64_t>("tensor offset");
        if (t.offset % align != 0)
            fail(Status::invalid_model, what + ": tensor '" + t.name + "' offset is not aligned to " + std::to_string(align));
        t.nbytes = type_bytes(t.type, numel);
        if (!names.emplace(t.name, (int)i).second)
            fail(Status::invalid_model, what + ": duplicate tensor '" + t.name + "'");
        f->tensors_.push_back(std::move(t));
    }
    const uint64_t data_start = (c.pos + align - 1) / align * align;
    // tensor data: inside the file, no two tensors overlapping
    std::map<uint64_t, const GgufTensor*> by_offset;
    for (GgufTensor& t : f->tensors_) {
        if (data_start > size || t.offset > size - data_start || t.nbytes > size - data_start - t.offset)
            fail(Status::io_error, what + ": truncated GGUF (tensor '" + t.name + "' data runs past the end of the file)");
        t.data = data + data_start + t.offset;
        auto ins = by_offset.emplace(t.offset, &t);
        if (!ins.second) fail(Status::invalid_model, what + ": tensors '" + t.name + "' and '" + ins.first->second->name + "' overlap");
    }
    uint64_t end = 0;
    for (const auto& kv : by_offset) {
        if (kv.first < end) fail(Status::invalid_model, what + ": tensor '" + kv.second->name + "' overlaps the previous one");
        end = kv.first + kv.second->nbytes;
    }
    return f;
}

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(Status::io_error, "cannot open " + path + ": " + std::strerror(errno));
    struct stat st{};
    if (::fstat(fd, &st) != 0) {
        ::close(fd);
        fail(Status::io_error, "cannot stat " + path);
    }
    const size_t size = (size_t)st.st_size;
    void* map = size ? ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0) : nullptr;
    ::close(fd);
    if (size && map == MAP_FAILED) fail(Status::io_error, "cannot map " + path);
    std::unique_ptr<GgufFile> f;
    try {
        f = parse(static_cast<const uint8_t*>(map), size, path);
    } catch (...) {
        if (map) ::munmap(map, size);
        throw;
    }
    f->map_ = map;
    f->map_size_ = size;
    return f;
}

TensorStore gguf_tensor_store(std::shared_ptr<GgufFile> file, const std::string& dir, const std::string& path) {
    if (const GgufValue* a = file->find("general.architecture"))
        if (a->kind != GgufValue::string || a->s != "convgpt")
            fail(Status::invalid_model, path + ": general.architecture is '" + a->s + "', not 'convgpt'");
    std::vector<TensorView> views;
    for (const GgufTensor& t : file->tensors()) {
        TensorView v;
        v.name = t.name;
        v.file = path;
        v.data = t.data;
        v.nbytes = t.nbytes;
        for (size_t d = t.ne.size(); d-- > 0;) v.shape.push_back((int64_t)t.ne[d]);
        v.dtype = t.type == GgmlType::f16 ? DType::f16 : DType::f32;
        const GgufValue* cols = file->find("convgpt.cols." + t.name);
        if (t.type == GgmlType::q8_0 || t.type == GgmlType::q4_0) {
            if (t.ne.size() != 2)
                fail(Status::invalid_model, path + ": quantized tensor '" + t.name + "' must be 2-D [rows, cols]");
            v.ggml_quant = (uint32_t)t.type;
            if (cols) {
                if (cols->kind != GgufValue::u64 || cols->u == 0 || cols->u > t.ne[0] || t.ne[0] - cols->u >= 32)
                    fail(Status::invalid_model, path + ": convgpt.cols." + t.name + " does not match ne[0] = " +
                                                    std::to_string(t.ne[0]) + " (shape mismatch)");
                v.shape[1] = (int64_t)cols->u;
            }
        } else if (cols) {
            fail(Status::invalid_model, path + ": convgpt.cols." + t.name + " given for an unquantized tensor");
        }
        views.push_back(std::move(v));
    }
    return TensorStore::from_views(dir, std::move(views), std::move(file));
}

// ---- writer --------------------------------------------------------------------------------------

namespace {
struct Out {
    std::vector<uint8_t> b;
    template <class T>
    void put(T v) {
        const size_t n = b.size();
        b.resize(n + sizeof(T));
        std::memcpy(b.data() + n, &v, sizeof(T));
    }
    void str(const std::string& s) {
        put<uint64_t>(s.size());
        b.insert(b.end(), s.begin(), s.end());
    }
};
} // namespace

std::vector<uint8_t> gguf_bytes(const std::vector<GgufTensorToWrite>& tensors,
                                const std::map<std::string, std::string>& string_metadata) {
    constexpr uint64_t kAlign = 32;
    struct Info {
        std::vector<uint64_t> ne;
        size_t nbytes;
    };
    std::vector<Info> infos;
    std::map<std::string, uint32_t> cols_keys;
    for (const GgufTensorToWrite& t : tensors) {
        if (t.shape.empty() || t.shape.size() > kMaxDims)
            fail(Status::invalid_argument, "gguf: tensor '" + t.name + "' must have 1 to 4 dimensions");
        Info in;
        uint64_t numel = 1;
        for (size_t d = t.shape.size(); d-- > 0;) {
            if (t.shape[d] <= 0) fail(Status::invalid_argument, "gguf: tensor '" + t.name + "' has an empty dimension");
            in.ne.push_back((uint64_t)t.shape[d]);
        }
        if (t.type == GgmlType::q8_0 || t.type == GgmlType::q4_0) {
            if (t.shape.size() != 2) fail(Status::invalid_argument, "gguf: quantized tensor '" + t.name + "' must be 2-D");
            const uint64_t K = in.ne[0], Kp = (K + 31) / 32 * 32;
            in.ne[0] = Kp;
            if (Kp != K) cols_keys["convgpt.cols." + t.name] = (uint32_t)K;
        }
        for (uint64_t n : in.ne) numel *= n;
        in.nbytes = type_bytes(t.type, numel);
        infos.push_back(in);
    }
    Out o;
    o.put<uint32_t>(kMagic);
    o.put<uint32_t>(3);
    o.put<uint64_t>(tensors.size());
    o.put<uint64_t>(2 + string_metadata.size() + cols_keys.size());
    o.str("general.architecture");
    o.put<uint32_t>(STR);
    o.str("convgpt");
    o.str("general.alignment");
    o.put<uint32_t>(U32);
    o.put<uint32_t>((uint32_t)kAlign);
    for (const auto& kv : string_metadata) {
        if (kv.first == "general.architecture" || kv.first == "general.alignment")
            fail(Status::invalid_argument, "gguf: metadata key '" + kv.first + "' is written by the writer");
        o.str(kv.first);
        o.put<uint32_t>(STR);
        o.str(kv.second);
    }
    for (const auto& kv : cols_keys) {
        o.str(kv.first);
        o.put<uint32_t>(U32);
        o.put<uint32_t>(kv.second);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
        o.str(tensors[i].name);
        o.put<uint32_t>((uint32_t)infos[i].ne.size());
        for (uint64_t n : infos[i].ne) o.put<uint64_t>(n);
        o.put<uint32_t>((uint32_t)tensors[i].type);
        o.put<uint64_t>(off);
        off += (infos[i].nbytes + kAlign - 1) / kAlign * kAlign;
    }
    o.b.resize((o.b.size() + kAlign - 1) / kAlign * kAlign, 0);
    const size_t data_start = o.b.size();
    o.b.resize(data_start + off, 0);
    off = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
        std::memcpy(o.b.data() + data_start + off, tensors[i].data, infos[i].nbytes);
        off += (infos[i].nbytes + kAlign - 1) / kAlign * kAlign;
    }
    return o.b;
}

void write_gguf(const std::string& path, const std::vector<GgufTensorToWrite>& tensors,
                const std::map<std::string, std::string>& string_metadata) {
    const std::vector<uint8_t> b = gguf_bytes(tensors, string_metadata);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) fail(Status::io_error, "cannot write " + path);
    out.write(reinterpret_cast<const char*>(b.data()), (std::streamsize)b.size());
    if (!out) fail(Status::io_error, "error writing " + path);
}

} // namespace vkc
