// safetensors reader/writer: fixtures, sharding, round trip, f16 conversion, malformed input.
#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/safetensors.h"
#include "tests/common/test_util.h"

using namespace vkc;

namespace {

const std::string k_fix = VKC_FIXTURES_DIR;

using vkc::test::expect_error;
using vkc::test::make_temp_dir;

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Raw safetensors bytes: little-endian header length, header text, data.
std::string raw_st(const std::string& header, const std::string& data, uint64_t len_override = 0) {
    const uint64_t n = len_override ? len_override : header.size();
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    return s + header + data;
}


// Writes header/data to a fresh file and expects open() to fail.
void expect_open_error(const std::string& header, const std::string& data, Status st,
                       std::initializer_list<std::string> parts, uint64_t len_override = 0) {
    const std::string path = make_temp_dir("bad") + "/bad.safetensors";
    write_file(path, raw_st(header, data, len_override));
    expect_error([&] { SafetensorsFile::open(path); }, st, parts);
    // The file name is always part of the message.
    try { SafetensorsFile::open(path); } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("bad.safetensors"), std::string::npos) << e.what();
    }
}

std::vector<float> to_f32(const TensorView& t) {
    std::vector<float> v(static_cast<size_t>(t.numel()));
    tensor_to_f32(t, v.data());
    return v;
}

const char* k_fixture_dirs[] = {"v1-tiny-tied/f32",   "v1-tiny-tied/bf16", "v1-tiny-untied/f32",
                                "v1-tiny-untied/bf16", "v1-tiny-swa/f32",   "v1-tiny-swa/bf16",
                                "v2-tiny",             "v2-tiny-g256"};

} // namespace

TEST(Safetensors, EveryFixtureLoadsAndMatchesItsSpec) {
    for (const char* sub : k_fixture_dirs) {
        SCOPED_TRACE(sub);
        const std::string dir = k_fix + "/" + sub;
        ModelConfig mc = load_config(dir);
        TensorStore store = TensorStore::open_dir(dir);
        EXPECT_NO_THROW(check_tensors(store, mc.arch == Arch::v1 ? v1_tensor_specs(mc.v1) : v2_tensor_specs(mc.v2)));
        ASSERT_FALSE(store.names().empty());
        for (const std::string& n : store.names()) {
            const TensorView& t = store.get(n);
            EXPECT_EQ(t.nbytes, static_cast<size_t>(t.numel()) * dtype_size(t.dtype)) << n;
            for (float v : to_f32(t)) ASSERT_TRUE(std::isfinite(v)) << n;
        }
        const TensorView& emb = store.get("model.embed_tokens.weight");
        EXPECT_EQ(emb.shape[0], mc.vocab_size());
        EXPECT_EQ(store.find("no.such.tensor"), nullptr);
        expect_error([&] { store.get("no.such.tensor"); }, Status::invalid_model, {"no.such.tensor"});
    }
}

TEST(Safetensors, FixtureMetadataAndDtypes) {
    auto f = SafetensorsFile::open(k_fix + "/v1-tiny-tied/bf16/model.safetensors");
    ASSERT_EQ(f->metadata().count("format"), 1u);
    EXPECT_EQ(f->metadata().at("format"), "pt");
    const TensorView& t = f->tensors().at("model.conv.weight");
    EXPECT_EQ(t.dtype, DType::bf16);
    EXPECT_EQ(t.shape_str(), "[16, 16, 1, 3]");
    EXPECT_EQ(t.numel(), 768);
    EXPECT_NE(t.file.find("bf16/model.safetensors"), std::string::npos);
}

TEST(Safetensors, Bf16FoldersMatchF32WithinBf16Rounding) {
    for (const char* m : {"v1-tiny-tied", "v1-tiny-untied", "v1-tiny-swa"}) {
        SCOPED_TRACE(m);
        TensorStore a = TensorStore::open_dir(k_fix + "/" + m + "/f32");
        TensorStore b = TensorStore::open_dir(k_fix + "/" + m + "/bf16");
        ASSERT_EQ(a.names(), b.names());
        for (const std::string& n : a.names()) {
            const TensorView& ta = a.get(n);
            const TensorView& tb = b.get(n);
            EXPECT_EQ(ta.dtype, DType::f32);
            EXPECT_EQ(tb.dtype, DType::bf16);
            ASSERT_EQ(ta.shape, tb.shape) << n;
            std::vector<float> va = to_f32(ta), vb = to_f32(tb);
            std::vector<uint16_t> ha(va.size()), hb(vb.size());
            tensor_to_f16(ta, ha.data());
            tensor_to_f16(tb, hb.data());
            for (size_t i = 0; i < va.size(); ++i) {
                // bf16 keeps 8 significant bits: relative error <= 2^-9 with round to nearest.
                ASSERT_LE(std::fabs(va[i] - vb[i]), std::ldexp(std::fabs(va[i]), -9) + 1e-30f) << n << "[" << i << "]";
                ASSERT_EQ(hb[i], f32_to_f16(vb[i]));
            }
        }
    }
}

TEST(Safetensors, WriteReadRoundTrip) {
    const std::string dir = make_temp_dir("rt");
    const std::string path = dir + "/rt.safetensors";
    const float a[6] = {1.f, -2.5f, 3.25f, 0.f, -0.f, 1e-30f};
    const uint16_t h[4] = {0x3c00, 0xc000, 0x0001, 0x7bff};
    const uint16_t bf[3] = {0x3f80, 0xbf00, 0x4049};
    const double d[2] = {0.1, -1e10};
    const int64_t ids[2] = {7, -3};
    const uint8_t bytes[5] = {1, 2, 3, 4, 5}; // odd size: later tensors start unaligned
    write_safetensors(path,
                      {{"a", DType::f32, {2, 3}, a},
                       {"bytes", DType::u8, {5}, bytes},
                       {"h", DType::f16, {4}, h},
                       {"bf", DType::bf16, {3}, bf},
                       {"d", DType::f64, {2}, d},
                       {"ids", DType::i64, {2}, ids},
                       {"empty", DType::f32, {0, 3}, nullptr},
                       {"scalar", DType::f32, {}, a}},
                      {{"format", "pt"}, {"note", "hello \"world\""}});

    std::ifstream in(path, std::ios::binary | std::ios::ate);
    const size_t size = static_cast<size_t>(in.tellg());
    in.seekg(0);
    uint8_t len8[8];
    in.read(reinterpret_cast<char*>(len8), 8);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | len8[i];
    EXPECT_EQ(n % 8, 0u);
    EXPECT_EQ(size, 8 + n + 24 + 5 + 8 + 6 + 16 + 16 + 0 + 4);

    auto f = SafetensorsFile::open(path);
    EXPECT_EQ(f->metadata().at("format"), "pt");
    EXPECT_EQ(f->metadata().at("note"), "hello \"world\"");
    ASSERT_EQ(f->tensors().size(), 8u);
    const auto& T = f->tensors();
    EXPECT_EQ(T.at("a").shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(std::memcmp(T.at("a").data, a, sizeof a), 0);
    EXPECT_EQ(std::memcmp(T.at("bytes").data, bytes, sizeof bytes), 0);
    EXPECT_EQ(std::memcmp(T.at("h").data, h, sizeof h), 0);
    EXPECT_EQ(std::memcmp(T.at("d").data, d, sizeof d), 0);
    EXPECT_EQ(std::memcmp(T.at("ids").data, ids, sizeof ids), 0);
    EXPECT_EQ(T.at("empty").numel(), 0);
    EXPECT_EQ(T.at("empty").nbytes, 0u);
    EXPECT_EQ(T.at("scalar").numel(), 1);
    EXPECT_EQ(T.at("scalar").shape_str(), "[]");
    EXPECT_EQ(T.at("ids").dtype, DType::i64);

    EXPECT_EQ(to_f32(T.at("h")), (std::vector<float>{1.f, -2.f, std::ldexp(1.f, -24), 65504.f}));
    EXPECT_EQ(to_f32(T.at("bf")), (std::vector<float>{1.f, -0.5f, 3.140625f}));
    EXPECT_EQ(to_f32(T.at("d")), (std::vector<float>{0.1f, -1e10f}));
    std::vector<uint16_t> hh(6);
    tensor_to_f16(T.at("a"), hh.data());
    EXPECT_EQ(hh, (std::vector<uint16_t>{0x3c00, 0xc100, 0x4280, 0x0000, 0x8000, 0x0000}));
    tensor_to_f16(T.at("bf"), hh.data());
    EXPECT_EQ(hh[0], 0x3c00);
    EXPECT_EQ(hh[1], 0xb800);
    std::vector<float> tmp(2);
    expect_error([&] { tensor_to_f32(T.at("ids"), tmp.data()); }, Status::invalid_model, {"'ids'", "I64"});
    std::vector<uint16_t> tmp16(5);
    expect_error([&] { tensor_to_f16(T.at("bytes"), tmp16.data()); }, Status::invalid_model, {"'bytes'", "U8"});

    // Writer failures.
    expect_error([&] { write_safetensors(dir + "/no/such/dir/x.safetensors", {{"a", DType::f32, {1}, a}}); },
                 Status::io_error, {"no/such/dir/x.safetensors"});
    expect_error([&] { write_safetensors(dir + "/dup.safetensors", {{"a", DType::f32, {1}, a}, {"a", DType::f32, {1}, a}}); },
                 Status::invalid_argument, {"'a'"});
}

TEST(Safetensors, ShardedIndex) {
    const std::string dir = make_temp_dir("shard");
    const float w0[4] = {1, 2, 3, 4}, w1[2] = {5, 6}, w2[3] = {7, 8, 9};
    write_safetensors(dir + "/model-00001-of-00002.safetensors",
                      {{"model.a", DType::f32, {2, 2}, w0}, {"model.b", DType::f32, {2}, w1}});
    write_safetensors(dir + "/model-00002-of-00002.safetensors", {{"model.c", DType::f32, {3}, w2}});
    write_file(dir + "/model.safetensors.index.json",
               R"({"metadata": {"total_size": 36}, "weight_map": {
                    "model.a": "model-00001-of-00002.safetensors",
                    "model.b": "model-00001-of-00002.safetensors",
                    "model.c": "model-00002-of-00002.safetensors"}})");
    TensorStore s = TensorStore::open_dir(dir);
    EXPECT_EQ(s.names(), (std::vector<std::string>{"model.a", "model.b", "model.c"}));
    EXPECT_EQ(to_f32(s.get("model.a")), (std::vector<float>{1, 2, 3, 4}));
    EXPECT_EQ(to_f32(s.get("model.c")), (std::vector<float>{7, 8, 9}));
    EXPECT_NE(s.get("model.c").file.find("model-00002-of-00002"), std::string::npos);
    // The index wins over a stray single-file checkpoint.
    write_safetensors(dir + "/model.safetensors", {{"model.zzz", DType::f32, {1}, w0}});
    EXPECT_EQ(TensorStore::open_dir(dir).find("model.zzz"), nullptr);

    // Index names a shard that lacks the tensor.
    write_file(dir + "/model.safetensors.index.json",
               R"({"weight_map": {"model.a": "model-00002-of-00002.safetensors",
                                  "model.c": "model-00002-of-00002.safetensors"}})");
    expect_error([&] { TensorStore::open_dir(dir); }, Status::invalid_model, {"'model.a'", "model-00002-of-00002"});

    // A tensor present in two shards.
    write_safetensors(dir + "/model-00002-of-00002.safetensors",
                      {{"model.c", DType::f32, {3}, w2}, {"model.b", DType::f32, {2}, w1}});
    write_file(dir + "/model.safetensors.index.json",
               R"({"weight_map": {"model.a": "model-00001-of-00002.safetensors",
                                  "model.b": "model-00001-of-00002.safetensors",
                                  "model.c": "model-00002-of-00002.safetensors"}})");
    expect_error([&] { TensorStore::open_dir(dir); }, Status::invalid_model, {"'model.b'", "two shards"});

    // Missing shard file, broken index.
    write_file(dir + "/model.safetensors.index.json", R"({"weight_map": {"model.a": "gone.safetensors"}})");
    expect_error([&] { TensorStore::open_dir(dir); }, Status::io_error, {"gone.safetensors"});
    write_file(dir + "/model.safetensors.index.json", R"({"weight_map": )");
    expect_error([&] { TensorStore::open_dir(dir); }, Status::invalid_model, {"model.safetensors.index.json", "JSON"});
    write_file(dir + "/model.safetensors.index.json", R"({"metadata": {}})");
    expect_error([&] { TensorStore::open_dir(dir); }, Status::invalid_model, {"weight_map"});
}

TEST(Safetensors, EmptyDirectory) {
    const std::string dir = make_temp_dir("empty");
    expect_error([&] { TensorStore::open_dir(dir); }, Status::io_error,
                 {"no model.safetensors or model.safetensors.index.json in", dir});
}

TEST(Safetensors, F16ConversionEdgeCases) {
    const float inf = std::numeric_limits<float>::infinity();
    const float nan = std::numeric_limits<float>::quiet_NaN();
    EXPECT_EQ(f32_to_f16(0.f), 0x0000);
    EXPECT_EQ(f32_to_f16(-0.f), 0x8000);
    EXPECT_EQ(f32_to_f16(1.f), 0x3c00);
    EXPECT_EQ(f32_to_f16(-2.f), 0xc000);
    EXPECT_EQ(f32_to_f16(65504.f), 0x7bff);          // max half
    EXPECT_EQ(f32_to_f16(65519.99f), 0x7bff);        // just below the tie
    EXPECT_EQ(f32_to_f16(65520.f), 0x7c00);          // tie, max is odd -> inf
    EXPECT_EQ(f32_to_f16(1e6f), 0x7c00);             // overflow
    EXPECT_EQ(f32_to_f16(-1e30f), 0xfc00);
    EXPECT_EQ(f32_to_f16(inf), 0x7c00);
    EXPECT_EQ(f32_to_f16(-inf), 0xfc00);
    const uint16_t hn = f32_to_f16(nan);
    EXPECT_EQ(hn & 0x7c00, 0x7c00);
    EXPECT_NE(hn & 0x03ff, 0);
    EXPECT_TRUE(std::isnan(f16_to_f32(hn)));
    uint32_t snan_bits = 0x7f800001; // signalling NaN whose payload is lost in the shift: still NaN
    float snan;
    std::memcpy(&snan, &snan_bits, 4);
    EXPECT_NE(f32_to_f16(snan) & 0x03ff, 0);
    // 1 + 2^-11 is a tie between 1 and 1 + 2^-10: even (1.0) wins; 1 + 3*2^-11 -> 1 + 2*2^-10.
    EXPECT_EQ(f32_to_f16(1.f + std::ldexp(1.f, -11)), 0x3c00);
    EXPECT_EQ(f32_to_f16(1.f + 3 * std::ldexp(1.f, -11)), 0x3c02);
    EXPECT_EQ(f32_to_f16(1.f + std::ldexp(1.f, -11) + std::ldexp(1.f, -20)), 0x3c01);
    // Subnormals: 2^-24 is the smallest; 2^-25 is a tie that goes to 0; a hair above goes to 1.
    EXPECT_EQ(f32_to_f16(std::ldexp(1.f, -24)), 0x0001);
    EXPECT_EQ(f32_to_f16(std::ldexp(1.f, -25)), 0x0000);
    EXPECT_EQ(f32_to_f16(-std::ldexp(1.f, -25)), 0x8000);
    EXPECT_EQ(f32_to_f16(std::ldexp(1.0001f, -25)), 0x0001);
    EXPECT_EQ(f32_to_f16(3 * std::ldexp(1.f, -25)), 0x0002); // 1.5 ulp -> even 2
    EXPECT_EQ(f32_to_f16(5 * std::ldexp(1.f, -25)), 0x0002); // 2.5 ulp -> even 2
    EXPECT_EQ(f32_to_f16(1023 * std::ldexp(1.f, -24)), 0x03ff);
    EXPECT_EQ(f32_to_f16(1023.5f * std::ldexp(1.f, -24)), 0x0400); // rounds up into the smallest normal
    EXPECT_EQ(f32_to_f16(std::ldexp(1.f, -14)), 0x0400);
    EXPECT_EQ(f32_to_f16(1e-10f), 0x0000);
    EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::denorm_min()), 0x0000);
    EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.f, -24));
    EXPECT_EQ(f16_to_f32(0x03ff), 1023 * std::ldexp(1.f, -24));
    EXPECT_EQ(f16_to_f32(0x7c00), inf);
    EXPECT_EQ(f16_to_f32(0xfc00), -inf);
    EXPECT_TRUE(std::signbit(f16_to_f32(0x8000)));
    EXPECT_EQ(bf16_to_f32(0x3f80), 1.f);
    EXPECT_EQ(bf16_to_f32(0xc2f7), -123.5f);
    EXPECT_TRUE(std::isnan(bf16_to_f32(0x7fc0)));

    // Every half survives f16 -> f32 -> f16.
    for (uint32_t b = 0; b < 0x10000; ++b) {
        const float f = f16_to_f32(static_cast<uint16_t>(b));
        if (std::isnan(f)) ASSERT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f)))) << b;
        else ASSERT_EQ(f32_to_f16(f), b) << b;
    }
    // Sampled floats in half range round to the nearest half, ties to even.
    for (uint64_t bits = 0; bits < 0x47800000u; bits += 997) {
        const uint32_t x = static_cast<uint32_t>(bits);
        float f;
        std::memcpy(&f, &x, 4);
        const uint16_t r = f32_to_f16(f);
        const double err = std::fabs(static_cast<double>(f16_to_f32(r)) - f);
        const double lo = r > 0 ? std::fabs(static_cast<double>(f16_to_f32(r - 1)) - f) : INFINITY;
        const double hi = r < 0x7bff ? std::fabs(static_cast<double>(f16_to_f32(r + 1)) - f) : INFINITY;
        if (r == 0x7c00) { ASSERT_GE(f, 65520.f); continue; }
        ASSERT_LE(err, lo) << x;
        ASSERT_LE(err, hi) << x;
        if (err == lo || err == hi) {
            ASSERT_EQ(r & 1, 0) << x; // tie: even wins
        }
    }
}

TEST(SafetensorsBad, MissingFile) {
    expect_error([] { SafetensorsFile::open("/nonexistent/dir/model.safetensors"); }, Status::io_error,
                 {"/nonexistent/dir/model.safetensors"});
}

TEST(SafetensorsBad, TruncatedFile) {
    const std::string path = make_temp_dir("trunc") + "/short.safetensors";
    write_file(path, std::string("\x10\x00\x00", 3));
    expect_error([&] { SafetensorsFile::open(path); }, Status::io_error, {"short.safetensors", "truncated"});
    write_file(path, "");
    expect_error([&] { SafetensorsFile::open(path); }, Status::io_error, {"short.safetensors", "truncated"});
}

TEST(SafetensorsBad, HeaderLengthBeyondFile) {
    expect_open_error("{}", "", Status::io_error, {"header length 4096", "beyond the end of the file"}, 4096);
}

TEST(SafetensorsBad, AbsurdHeaderSize) {
    expect_open_error("{}", "", Status::invalid_model, {"absurd"}, 1ull << 40);
}

TEST(SafetensorsBad, HeaderNotJson) {
    expect_open_error("{\"a\": {\"dtype\": ", "", Status::invalid_model, {"not valid JSON"});
    expect_open_error("[1, 2, 3]", "", Status::invalid_model, {"not a JSON object"});
}

TEST(SafetensorsBad, UnknownDtype) {
    expect_open_error(R"({"x": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}})", "ab",
                      Status::invalid_model, {"unknown dtype 'F8_E4M3' for tensor 'x'"});
}

TEST(SafetensorsBad, OffsetsOutOfRange) {
    expect_open_error(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", "12345678",
                      Status::io_error, {"'w'", "out of range"});
}

TEST(SafetensorsBad, OffsetsReversed) {
    expect_open_error(R"({"w": {"dtype": "U8", "shape": [4], "data_offsets": [8, 4]}})", "12345678",
                      Status::invalid_model, {"'w'", "reversed"});
}

TEST(SafetensorsBad, SizeMismatch) {
    expect_open_error(R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", "12345678",
                      Status::invalid_model, {"'w'", "[3]", "needs 12"});
}

TEST(SafetensorsBad, Overlap) {
    expect_open_error(R"({"p": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                          "q": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]}})",
                      "12345678", Status::invalid_model, {"'p'", "'q'", "overlap"});
}

TEST(SafetensorsBad, NegativeDim) {
    expect_open_error(R"({"n": {"dtype": "U8", "shape": [-2, -2], "data_offsets": [0, 4]}})", "1234",
                      Status::invalid_model, {"'n'", "negative"});
}

TEST(SafetensorsBad, MalformedEntries) {
    expect_open_error(R"({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
                          "a": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}})",
                      "12", Status::invalid_model, {"'a'", "twice"});
    expect_open_error(R"({"m": {"dtype": "U8", "shape": [1]}})", "1", Status::invalid_model, {"'m'", "data_offsets"});
    expect_open_error(R"({"m": {"dtype": "U8", "shape": [1], "data_offsets": [0, -1]}})", "1", Status::invalid_model,
                      {"'m'", "data_offsets"});
    expect_open_error(R"({"m": {"dtype": "U8", "shape": "x", "data_offsets": [0, 1]}})", "1", Status::invalid_model,
                      {"'m'", "shape"});
    expect_open_error(R"({"m": {"dtype": "U8", "shape": [1.5], "data_offsets": [0, 1]}})", "1", Status::invalid_model,
                      {"'m'", "shape"});
    expect_open_error(R"({"m": {"dtype": "F64", "shape": [4294967296, 4294967296, 4294967296],
                          "data_offsets": [0, 1]}})", "1", Status::invalid_model, {"'m'", "too large"});
    expect_open_error(R"({"__metadata__": [1]})", "", Status::invalid_model, {"__metadata__"});
}

TEST(SafetensorsBad, PaddingAndEmptyHeaderAccepted) {
    const std::string path = make_temp_dir("pad") + "/ok.safetensors";
    write_file(path, raw_st(std::string(R"({"__metadata__": {"k": "v"}, "z": {"dtype": "U8", "shape": [0],)") +
                                R"( "data_offsets": [0, 0]}})" + "   ",
                            ""));
    auto f = SafetensorsFile::open(path);
    EXPECT_EQ(f->metadata().at("k"), "v");
    EXPECT_EQ(f->tensors().at("z").numel(), 0);
}

// The in-memory entry points the fuzz targets use (tests/fuzz/fuzz_safetensors*.cpp) parse and check
// exactly like the file readers.
TEST(Safetensors, FromMemoryAndIndexText) {
    const float v[2] = {1.5f, -2.0f};
    std::string data(reinterpret_cast<const char*>(v), sizeof v);
    const std::string img = raw_st(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data);
    auto f = SafetensorsFile::from_memory(reinterpret_cast<const uint8_t*>(img.data()), img.size(), "mem");
    ASSERT_EQ(f->tensors().count("w"), 1u);
    float out[2];
    tensor_to_f32(f->tensors().at("w"), out);
    EXPECT_EQ(out[0], 1.5f);
    EXPECT_EQ(out[1], -2.0f);
    expect_error([&] { SafetensorsFile::from_memory(reinterpret_cast<const uint8_t*>(img.data()), 5, "mem"); },
                 Status::io_error, {"mem", "truncated"});
    expect_error([&] { SafetensorsFile::from_memory(reinterpret_cast<const uint8_t*>(img.data()), img.size() - 1, "mem"); },
                 Status::io_error, {"mem", "tensor 'w'"});

    const auto wm = parse_safetensors_index(R"({"weight_map": {"b": "s2.safetensors", "a": "s1.safetensors"}})", "idx");
    ASSERT_EQ(wm.size(), 2u);
    EXPECT_EQ(wm[0], (std::pair<std::string, std::string>("a", "s1.safetensors")));
    expect_error([] { parse_safetensors_index(R"({"weight_map": {"a": "../x"}})", "idx"); }, Status::invalid_model,
                 {"idx", "plain file name"});
    expect_error([] { parse_safetensors_index("[]", "idx"); }, Status::invalid_model, {"idx", "not a JSON object"});
}
