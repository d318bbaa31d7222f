// GGUF (model/gguf.h): write -> read round trip (metadata, shapes, padded quantized rows, the logical
// shape through gguf_tensor_store), and every error: truncation at every byte, bad magic / version,
// unknown tensor type, misaligned / overlapping / out-of-file data, duplicates, shape mismatches.
#include <gtest/gtest.h>

#include <cstring>

#include "model/gguf.h"
#include "model/quant.h"
#include "tests/common/test_env.h"
#include "tests/common/test_util.h"

using namespace vkc;
using vkc::test::random_vec;

namespace {

// A small file: a Q8_0 matrix [3, 40] (padded to 64), a Q4_0 matrix [2, 32], an F32 [2, 1, 3] tensor.
struct Sample {
    std::vector<float> a, b, c;
    std::vector<uint8_t> qa, qb;
    std::vector<uint8_t> bytes;
};
Sample sample() {
    Sample s;
    s.a = random_vec(3 * 40, 1);
    s.b = random_vec(2 * 32, 2);
    s.c = random_vec(6, 3);
    s.qa.resize(3 * 2 * 34);
    for (int r = 0; r < 3; ++r) quantize_row(WeightType::q8_0, s.a.data() + r * 40, 40, s.qa.data() + r * 68);
    s.qb.resize(2 * 18);
    for (int r = 0; r < 2; ++r) quantize_row(WeightType::q4_0, s.b.data() + r * 32, 32, s.qb.data() + r * 18);
    s.bytes = gguf_bytes({{"w.a", GgmlType::q8_0, {3, 40}, s.qa.data()},
                          {"w.b", GgmlType::q4_0, {2, 32}, s.qb.data()},
                          {"v.c", GgmlType::f32, {2, 1, 3}, s.c.data()}},
                         {{"general.name", "sample"}});
    return s;
}

std::unique_ptr<GgufFile> parse(const std::vector<uint8_t>& b) { return GgufFile::parse(b.data(), b.size(), "test.gguf"); }

// Expects parse to throw with `status` and a message containing `part`.
void expect_parse_error(const std::vector<uint8_t>& b, Status status, const std::string& part) {
    try {
        parse(b);
        ADD_FAILURE() << "no error; expected '" << part << "'";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), status) << e.what();
        EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
}

// Byte offset of the first occurrence of a string in the file (tensor infos are found by their name).
size_t find(const std::vector<uint8_t>& b, const std::string& s) {
    auto it = std::search(b.begin(), b.end(), s.begin(), s.end());
    EXPECT_NE(it, b.end()) << s;
    return size_t(it - b.begin());
}
// Offset of a tensor info's name (the length-prefixed string, so a metadata key ending in it is skipped).
size_t tensor_at(const std::vector<uint8_t>& b, const std::string& name) {
    std::string lp(8, '\0');
    lp[0] = char(name.size());
    return find(b, lp + name) + 8;
}
// Offset of the u32 type field of tensor `name` (name string, u32 n_dims, u64 ne[n_dims]).
size_t type_field(const std::vector<uint8_t>& b, const std::string& name, uint32_t nd) {
    return tensor_at(b, name) + name.size() + 4 + 8 * nd;
}
template <class T>
void poke(std::vector<uint8_t>& b, size_t at, T v) { std::memcpy(b.data() + at, &v, sizeof v); }

TEST(Gguf, RoundTrip) {
    Sample s = sample();
    auto f = parse(s.bytes);
    EXPECT_EQ(f->version(), 3u);
    ASSERT_NE(f->find("general.architecture"), nullptr);
    EXPECT_EQ(f->find("general.architecture")->s, "convgpt");
    EXPECT_EQ(f->find("general.name")->s, "sample");
    ASSERT_NE(f->find("convgpt.cols.w.a"), nullptr);
    EXPECT_EQ(f->find("convgpt.cols.w.a")->u, 40u);
    EXPECT_EQ(f->find("convgpt.cols.w.b"), nullptr); // 32: no padding, no key
    ASSERT_EQ(f->tensors().size(), 3u);
    const GgufTensor& a = f->tensors()[0];
    EXPECT_EQ(a.type, GgmlType::q8_0);
    EXPECT_EQ(a.ne, (std::vector<uint64_t>{64, 3}));
    EXPECT_EQ(a.nbytes, s.qa.size());
    EXPECT_EQ(std::memcmp(a.data, s.qa.data(), s.qa.size()), 0);
    EXPECT_EQ((a.data - s.bytes.data()) % 32, 0);
    EXPECT_EQ(f->tensors()[2].ne, (std::vector<uint64_t>{3, 1, 2}));

    // through a file and the loader's store: logical shapes, dense views as f32
    const std::string dir = test::make_temp_dir("gguf");
    write_gguf(dir + "/model.gguf", {{"w.a", GgmlType::q8_0, {3, 40}, s.qa.data()},
                                     {"v.c", GgmlType::f32, {2, 1, 3}, s.c.data()}}, {});
    TensorStore st = gguf_tensor_store(std::shared_ptr<GgufFile>(GgufFile::open(dir + "/model.gguf")), dir, "m");
    const TensorView& va = st.get("w.a");
    EXPECT_EQ(va.shape, (std::vector<int64_t>{3, 40}));
    EXPECT_EQ(va.ggml_quant, 8u);
    EXPECT_EQ(view_quant_type(va), WeightType::q8_0);
    std::vector<float> deq(120), want(120);
    view_to_f32(va, deq.data());
    for (int r = 0; r < 3; ++r) dequantize_row(WeightType::q8_0, s.qa.data() + r * 68, 40, want.data() + r * 40);
    EXPECT_EQ(deq, want);
    const TensorView& vc = st.get("v.c");
    EXPECT_EQ(vc.shape, (std::vector<int64_t>{2, 1, 3}));
    std::vector<float> c(6);
    view_to_f32(vc, c.data());
    EXPECT_EQ(c, s.c);
    EXPECT_THROW(tensor_to_f32(va, deq.data()), Error); // blocks are never read as floats
}

// Every prefix of a valid file that cuts into its header or tensor data (not just the last tensor's
// alignment padding) is rejected as truncated: never parsed, never a crash or a read past the end.
TEST(Gguf, EveryTruncationIsAnError) {
    Sample s = sample();
    const auto whole = parse(s.bytes); // keeps `last` alive (ASan: use after free of a temporary)
    const GgufTensor& last = whole->tensors().back();
    const size_t end = size_t(last.data - s.bytes.data()) + last.nbytes;
    ASSERT_LE(s.bytes.size() - end, 31u);
    for (size_t n = 0; n < end; ++n) {
        std::vector<uint8_t> b(s.bytes.begin(), s.bytes.begin() + n);
        try {
            parse(b);
            ADD_FAILURE() << "prefix of " << n << " bytes parsed";
        } catch (const Error& e) {
            EXPECT_EQ(e.status(), Status::io_error) << n << ": " << e.what();
        }
    }
}

TEST(Gguf, Errors) {
    const Sample s = sample();
    auto b = s.bytes;
    b[0] = 'X';
    expect_parse_error(b, Status::invalid_model, "bad magic");
    b = s.bytes;
    poke<uint32_t>(b, 4, 7);
    expect_parse_error(b, Status::invalid_model, "version 7");
    b = s.bytes;
    poke<uint32_t>(b, type_field(b, "w.b", 2), 3); // Q4_1: not supported
    expect_parse_error(b, Status::invalid_model, "unsupported ggml type 3");
    b = s.bytes;
    poke<uint64_t>(b, tensor_at(b, "w.a") + 3 + 4, 40); // ne[0] = 40 for a Q8_0 tensor
    expect_parse_error(b, Status::invalid_model, "not a multiple of 32");
    b = s.bytes;
    poke<uint64_t>(b, tensor_at(b, "w.a") + 3 + 4, 0);
    expect_parse_error(b, Status::invalid_model, "bad dimension");
    b = s.bytes;
    poke<uint32_t>(b, tensor_at(b, "w.a") + 3, 5); // n_dims
    expect_parse_error(b, Status::invalid_model, "5 dimensions");
    b = s.bytes;
    poke<uint64_t>(b, type_field(b, "w.b", 2) + 4, 8); // offset not aligned
    expect_parse_error(b, Status::invalid_model, "not aligned");
    b = s.bytes;
    poke<uint64_t>(b, type_field(b, "w.b", 2) + 4, 0); // same offset as w.a
    expect_parse_error(b, Status::invalid_model, "overlap");
    b = s.bytes;
    poke<uint64_t>(b, type_field(b, "v.c", 3) + 4, 1 << 20); // past the end
    expect_parse_error(b, Status::io_error, "past the end");
    b = s.bytes;
    std::memcpy(b.data() + tensor_at(b, "w.b"), "w.a", 3); // duplicate tensor name
    expect_parse_error(b, Status::invalid_model, "duplicate tensor 'w.a'");
    b = s.bytes;
    poke<uint32_t>(b, find(b, "general.name") + 12, 99); // value type
    expect_parse_error(b, Status::invalid_model, "unknown value type 99");
    b = s.bytes;
    poke<uint64_t>(b, 8, uint64_t(1) << 60); // absurd tensor count
    expect_parse_error(b, Status::io_error, "truncated");
    b = s.bytes;
    poke<uint64_t>(b, find(b, "general.name") - 8, uint64_t(1) << 62); // key length beyond the file
    expect_parse_error(b, Status::io_error, "truncated");
}

// The logical width recorded in convgpt.cols must fit the padded ne[0] (and apply to quantized tensors).
TEST(Gguf, ColsKeyMismatch) {
    const Sample s = sample();
    auto store_of = [](std::vector<uint8_t> b) {
        auto keep = std::make_shared<std::vector<uint8_t>>(std::move(b));
        std::shared_ptr<GgufFile> f(GgufFile::parse(keep->data(), keep->size(), "t"));
        return gguf_tensor_store(f, ".", "t");
    };
    auto b = s.bytes;
    poke<uint32_t>(b, find(b, "convgpt.cols.w.a") + 16 + 4, 70); // > ne[0] = 64
    test::expect_error([&] { store_of(b); }, Status::invalid_model, {"shape mismatch"});
    b = s.bytes;
    poke<uint32_t>(b, find(b, "convgpt.cols.w.a") + 16 + 4, 20); // padding of 44 >= one block
    test::expect_error([&] { store_of(b); }, Status::invalid_model, {"shape mismatch"});
    b = s.bytes;
    std::memcpy(b.data() + find(b, "general.architecture") + 20 + 4 + 8, "llama  ", 7);
    test::expect_error([&] { store_of(b); }, Status::invalid_model, {"not 'convgpt'"});
}

TEST(Gguf, WriterRejectsBadInput) {
    float x[4] = {};
    test::expect_error([&] { gguf_bytes({{"q", GgmlType::q8_0, {4}, x}}, {}); }, Status::invalid_argument, {"2-D"});
    test::expect_error([&] { gguf_bytes({{"e", GgmlType::f32, {0, 2}, x}}, {}); }, Status::invalid_argument, {"empty"});
    test::expect_error([&] { gguf_bytes({}, {{"general.alignment", "1"}}); }, Status::invalid_argument, {"written by"});
    test::expect_error([&] { GgufFile::open("/nonexistent/model.gguf"); }, Status::io_error, {"cannot open"});
}

} // namespace
