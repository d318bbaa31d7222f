// embed family: v1 conv embedding (vkc::ref::embed_conv_pool_norm per token) and v2 row gather, both
// weight types, split embedding tables, tok_offset != 0, out-of-range ids clamped.
#include <gtest/gtest.h>

#include "model/kernels/embed.h"
#include "tests/common/gpu_helpers.h"
#include "tests/ref/ref_ops.h"

using namespace vkc;
using namespace vkc::test;

namespace {

class Embed : public VkTest {};

struct ConvShape { uint32_t e, f, k; };

// Tokens buffer: `tok_offset` leading junk entries, then ids covering 0, vocab-1, both sides of every
// part boundary, and repeats.
std::vector<uint32_t> make_tokens(uint32_t vocab, uint32_t rpp, uint32_t tok_offset, uint32_t n) {
    std::vector<uint32_t> t(tok_offset, 0xdeadbeefu);
    std::vector<uint32_t> ids{0, vocab - 1, 1};
    for (uint32_t b = rpp; b < vocab; b += rpp) { ids.push_back(b - 1); ids.push_back(b); }
    for (uint32_t i = 0; ids.size() < n; ++i) ids.push_back((i * 7 + 3) % vocab);
    ids.resize(n);
    t.insert(t.end(), ids.begin(), ids.end());
    return t;
}

// pad: floats between output rows (out_stride = td + pad; 0: packed rows, the push's default)
void conv_test(WeightType type, const ConvShape& s, uint32_t vocab, int parts, uint32_t seed, uint32_t pad = 0) {
    const uint32_t H = s.e * s.e, p = s.e / s.f, td = p * p, n = 11, tok_offset = 5, stride = td + pad;
    SCOPED_TRACE("e=" + std::to_string(s.e) + " f=" + std::to_string(s.f) + " k=" + std::to_string(s.k) +
                 " parts=" + std::to_string(parts) + " pad=" + std::to_string(pad) + " " + weight_type_suffix(type));
    std::vector<float> E = random_vec(size_t(vocab) * H, seed);
    // a row so small that the ScaleNorm floor (1e-5) applies (f32 only: f16 would flush it)
    if (type == WeightType::f32)
        for (uint32_t i = 0; i < H; ++i) E[size_t(1) * H + i] *= 1e-7f;
    if (type == WeightType::f16) E = Buffers::round_f16(E);
    std::vector<float> cw = random_vec(size_t(s.e) * s.e * s.k, seed + 1, -0.3f, 0.3f);
    const std::vector<float> g{1.7f};

    const uint32_t rpp = (vocab + parts - 1) / parts;
    const std::vector<uint32_t> tokens = make_tokens(vocab, rpp, tok_offset, n);

    Buffers b;
    EmbedConvKernel kern(env(), type);
    WeightTensor Et = b.weight(E, vocab, H, type, rpp);
    ASSERT_EQ((int)Et.parts.size(), parts);
    BufferRef tb = b.from(tokens), cwb = b.from(cw), gb = b.from(g), out = b.zeros(size_t(n) * stride * 4 + 64);
    BoundSet set = kern.bind(b.sets(), tb, Et, cwb, gb, out);
    EmbedConvPush push = EmbedConvKernel::push_for(n, tok_offset, Et, s.f, s.k);
    ASSERT_EQ(push.e, s.e);
    ASSERT_EQ(push.td, td);
    if (pad) push.out_stride = stride;
    run_once([&](Recorder& rec) { kern.record(rec, set, push); });
    std::vector<float> got = b.read(out, size_t(n) * stride + 16);

    for (uint32_t t = 0; t < n; ++t) {
        const uint32_t id = tokens[tok_offset + t];
        std::vector<float> erow(E.begin() + size_t(id) * H, E.begin() + size_t(id + 1) * H);
        std::vector<float> want = ref::embed_conv_pool_norm<float>(erow, cw, g[0], s.e, s.f, s.k);
        ASSERT_EQ(want.size(), td);
        std::vector<float> row(got.begin() + size_t(t) * stride, got.begin() + size_t(t) * stride + td);
        EXPECT_LT(rel_error(row, want), 2e-5) << "token " << t << " id " << id;
        for (uint32_t i = td; i < stride; ++i) EXPECT_EQ(got[size_t(t) * stride + i], 0.f) << "wrote into the padding";
    }
    for (size_t i = size_t(n) * stride; i < got.size(); ++i) EXPECT_EQ(got[i], 0.f) << "wrote past the output";
}

// (e, f, k): v1 fixtures (H=256 and 576), the 164M checkpoint (H=1296, td=144), an odd one with f=1
// (no pooling), k=2, and td > the workgroup size (one thread per value, several rounds) up to H = 4096.
const ConvShape kConvShapes[] = {{16, 2, 3}, {24, 2, 5}, {36, 3, 3}, {7, 1, 2}, {48, 2, 4}, {64, 1, 2}};

TEST_F(Embed, ConvF32) {
    uint32_t seed = 10;
    for (const ConvShape& s : kConvShapes) conv_test(WeightType::f32, s, 40, 1, seed++);
}
TEST_F(Embed, ConvF16) {
    uint32_t seed = 20;
    for (const ConvShape& s : kConvShapes) conv_test(WeightType::f16, s, 40, 1, seed++);
}
TEST_F(Embed, ConvSplitTable) {
    uint32_t seed = 30;
    for (const ConvShape& s : kConvShapes) {
        conv_test(WeightType::f32, s, 41, 3, seed++);
        conv_test(WeightType::f16, s, 37, 3, seed++); // odd rows_per_part * H: parts start at row offsets
    }
}

// Rows at a stride past td (decode_batch's rows padded to the offset alignment): padding untouched.
TEST_F(Embed, ConvRowStride) {
    conv_test(WeightType::f16, kConvShapes[2], 40, 1, 40, 5);
    conv_test(WeightType::f32, kConvShapes[3], 41, 3, 41, 64);
}

// Ids >= vocab are clamped to vocab - 1 (no out-of-bounds reads; the host rejects such ids first).
TEST_F(Embed, ConvClampsIds) {
    const uint32_t e = 7, H = 49, vocab = 5;
    std::vector<float> E = random_vec(size_t(vocab) * H, 3);
    std::vector<float> cw = random_vec(size_t(e) * e * 2, 4);
    Buffers b;
    EmbedConvKernel kern(env(), WeightType::f32);
    WeightTensor Et = b.weight(E, vocab, H, WeightType::f32);
    BufferRef tb = b.from(std::vector<uint32_t>{vocab - 1, vocab, 0xffffffffu}), cwb = b.from(cw),
              gb = b.from(std::vector<float>{1.f}), out = b.zeros(3 * H * 4);
    BoundSet set = kern.bind(b.sets(), tb, Et, cwb, gb, out);
    run_once([&](Recorder& rec) { kern.record(rec, set, EmbedConvKernel::push_for(3, 0, Et, 1, 2)); });
    std::vector<float> got = b.read(out, 3 * H);
    std::vector<float> r0(got.begin(), got.begin() + H);
    EXPECT_GT(std::fabs(r0[H / 2]), 0.f);
    EXPECT_EQ(std::vector<float>(got.begin() + H, got.begin() + 2 * H), r0);
    EXPECT_EQ(std::vector<float>(got.begin() + 2 * H, got.end()), r0);
}

TEST_F(Embed, ConvRejectsBadShapes) {
    Buffers b;
    EmbedConvKernel kern(env(), WeightType::f32);
    WeightTensor Et = b.weight(random_vec(4 * 36, 1), 4, 36, WeightType::f32);
    BufferRef tb = b.from(std::vector<uint32_t>{0}), cwb = b.zeros(6 * 6 * 3 * 4), gb = b.zeros(4),
              out = b.zeros(36 * 4);
    BoundSet set = kern.bind(b.sets(), tb, Et, cwb, gb, out);
    CommandBuffer cb(ctx());
    Recorder rec(cb.begin(true));
    EXPECT_THROW(kern.record(rec, set, EmbedConvKernel::push_for(1, 0, Et, 4, 3)), Error); // 4 does not divide 6
    EmbedConvPush p = EmbedConvKernel::push_for(1, 0, Et, 2, 3);
    p.td = 10;
    EXPECT_THROW(kern.record(rec, set, p), Error);
    cb.end();
}

void gather_test(WeightType type, uint32_t d, uint32_t vocab, int parts, uint32_t seed) {
    SCOPED_TRACE("d=" + std::to_string(d) + " parts=" + std::to_string(parts) + " " + weight_type_suffix(type));
    const uint32_t n = 13, tok_offset = 3;
    std::vector<float> E = random_vec(size_t(vocab) * d, seed, -3.f, 3.f);
    if (type == WeightType::f16) E = Buffers::round_f16(E);
    const uint32_t rpp = (vocab + parts - 1) / parts;
    std::vector<uint32_t> tokens = make_tokens(vocab, rpp, tok_offset, n);
    tokens.push_back(vocab + 7); // clamped to vocab - 1

    Buffers b;
    EmbedGatherKernel kern(env(), type);
    WeightTensor Et = b.weight(E, vocab, d, type, rpp);
    ASSERT_EQ((int)Et.parts.size(), parts);
    BufferRef tb = b.from(tokens), out = b.zeros(size_t(n + 1) * d * 4 + 64);
    BoundSet set = kern.bind(b.sets(), tb, Et, out);
    run_once([&](Recorder& rec) { kern.record(rec, set, EmbedGatherKernel::push_for(n + 1, tok_offset, Et)); });
    std::vector<float> got = b.read(out, size_t(n + 1) * d + 16);
    std::vector<float> want(got.size(), 0.f);
    for (uint32_t t = 0; t <= n; ++t) {
        const uint32_t id = std::min(tokens[tok_offset + t], vocab - 1);
        std::copy(E.begin() + size_t(id) * d, E.begin() + size_t(id + 1) * d, want.begin() + size_t(t) * d);
    }
    EXPECT_EQ(got, want); // a copy (f16 -> f32 is exact)
}

TEST_F(Embed, Gather) {
    uint32_t seed = 50;
    for (WeightType type : {WeightType::f32, WeightType::f16})
        for (uint32_t d : {1u, 7u, 129u, 300u}) {
            gather_test(type, d, 30, 1, seed++);
            gather_test(type, d, 31, 3, seed++);
        }
}

} // namespace
