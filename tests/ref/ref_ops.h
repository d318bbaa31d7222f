// CPU reference ops for ConvGPT v1 / ConvGPT-v2 (specs: shared/spec/convgpt-v1.md, convgpt-v2.md).
// Plain loops, all arithmetic in double. Tensors are row-major std::vector<F>, F = float or double
// (both instantiated). Shapes are given in the comments; sizes are checked and a mismatch throws
// std::invalid_argument. GPU kernels are tested against these functions, one op each.
#pragma once
#include <cstdint>
#include <vector>

namespace vkc::ref {

template <class F> using Vec = std::vector<F>;

// ---------------------------------------------------------------- common
// x [T, n], w [n] -> [T, n]: y = x / sqrt(mean(x^2) + eps) * w   (n = w.size())
template <class F> Vec<F> rmsnorm(const Vec<F>& x, const Vec<F>& w, double eps);
// x [T, k], w [n, k] -> [T, n]: y = x w^T
template <class F> Vec<F> matmul(const Vec<F>& x, const Vec<F>& w, int n, int k);
// elementwise
template <class F> Vec<F> silu(const Vec<F>& x);
template <class F> Vec<F> sigmoid(const Vec<F>& x);
// silu(gate) * up, same shapes
template <class F> Vec<F> swiglu(const Vec<F>& gate, const Vec<F>& up);
// x [T, d] -> [T, n] for the SwiGLU MLP: down(silu(x gate^T) * (x up^T)); gate, up [I, d], down [n, I]
template <class F> Vec<F> mlp(const Vec<F>& x, const Vec<F>& gate, const Vec<F>& up, const Vec<F>& down,
                              int d, int inter, int n);
// x += y (same size)
template <class F> void add_inplace(Vec<F>& x, const Vec<F>& y);
// index of the largest value of row [n]; ties -> lowest index
template <class F> int argmax(const F* row, int n);

// Rotate-half (NeoX) RoPE in place. x [T, heads, hd]; row t has position pos0 + t. Pair (i, i + hd/2):
//   x'[i] = x[i] cos - x[i+hd/2] sin ;  x'[i+hd/2] = x[i+hd/2] cos + x[i] sin,  angle = pos * inv_freq[i],
// inv_freq[i] = theta^(-2i/hd). Default: inv_freq, angle, cos, sin all in double: this reproduces every
// fixture bit for bit (v1 included, although the v1 spec says float32 inv_freq). f32_inv_freq = true
// rounds inv_freq to float32 as upstream's float32 model does (fixtures then differ by <= 1e-7 relative;
// the angle differs by up to pos * 2^-24 * inv_freq, i.e. grows with position).
template <class F> void rope(Vec<F>& x, int heads, int hd, int pos0, double theta, bool f32_inv_freq = false);
// inv_freq table [hd/2] used by rope()
std::vector<double> rope_inv_freq(int hd, double theta, bool f32 = false);

// ---------------------------------------------------------------- ConvGPT v1
// One token's embedding row E[id] [H = e*e] -> [td = (e/f)^2] (spec steps 2-4):
// causal 1 x k conv along w with full channel mixing (convw [e, e, 1, k] = Conv2d out, in, 1, k),
// f x f average pool, ScaleNorm h = P / max(||P|| / sqrt(td), 1e-5) * g.
template <class F> Vec<F> embed_conv_pool_norm(const Vec<F>& erow, const Vec<F>& convw, double g,
                                               int e, int f, int k);
// q_norm / k_norm + RoPE in place: x [T, heads, hd]; RMSNorm(eps) over each head's hd values with
// w [hd], then rope() with positions pos0 + t.
template <class F> void qk_norm_rope(Vec<F>& x, const Vec<F>& w, double eps, int heads, int pos0,
                                     double theta, bool f32_inv_freq = false);
// Causal GQA attention. q [T, nh, hd] at positions pos0..pos0+T-1; k, v [S, nkv, hd] at positions
// 0..S-1 (S >= pos0 + T). q head h uses kv head h / (nh / nkv). Key j visible to query i iff j <= i and
// (sliding_window == 0 or i - j < sliding_window). Scale hd^-0.5. -> [T, nh * hd]
template <class F> Vec<F> attention(const Vec<F>& q, const Vec<F>& k, const Vec<F>& v, int nh, int nkv,
                                    int hd, int pos0, int sliding_window);

// ---------------------------------------------------------------- ConvGPT-v2
// Hilbert curve on a G x G grid (G power of two), the iterative conversion of the spec.
// Note: t = 0..3 -> (0,0)(1,0)(1,1)(0,1) when log2(G) is even, transposed (0,0)(0,1)(1,1)(1,0) when odd
// (e.g. G = 32); the v2-tiny fixture (G = 32) confirms the literal algorithm.
void hilbert_d2xy(int G, int64_t t, int* x, int* y);
int64_t hilbert_xy2d(int G, int x, int y);

// Depthwise causal 1D conv. a [T, d], w [d, k1] (= conv1d.weight [d, 1, k1]), bias [d] -> [T, d]:
// c[t][ch] = bias[ch] + sum_{j<k1} w[ch][j] * a[t - (k1-1) + j][ch], a[negative] = 0.
template <class F> Vec<F> conv1d_causal(const Vec<F>& a, const Vec<F>& w, const Vec<F>& bias, int k1);
// Depthwise 2D conv over the Hilbert grid, "active causal gather". a [S, d] holds a at positions 0..S-1;
// output rows are positions pos0..S-1 -> [S - pos0, d]. w [d, k2, k2] (= conv2d.weight [d, 1, k2, k2]),
// index [ch][dy + r][dx + r], r = k2 / 2. For position t at (x, y) = d2xy(G, t): every cell
// (x+dx, y+dy) inside the grid whose position p = xy2d(G, x+dx, y+dy) satisfies p <= t contributes
// w[ch][dy+r][dx+r] * a[p][ch]; plus bias[ch]. (No conv2d_norm here: apply rmsnorm afterwards.)
template <class F> Vec<F> conv2d_hilbert(const Vec<F>& a, const Vec<F>& w, const Vec<F>& bias, int k2,
                                         int G, int pos0 = 0);
// Gated fusion, all [T, d]: g = sigmoid(gate_pre) with gate_pre = h gate_proj^T;
// -> (g * silu(c1) + (1 - g) * silu(c2)) * silu(z)   (the input of out_proj)
template <class F> Vec<F> gated_fusion(const Vec<F>& gate_pre, const Vec<F>& c1, const Vec<F>& c2,
                                       const Vec<F>& z);
// Chunk summaries: k [S, Hm, Dm] -> kbar [S / C, Hm, Dm], the mean of k over each closed chunk
// (chunk j = positions [jC, (j+1)C); a trailing partial chunk has no summary).
template <class F> Vec<F> chunk_summaries(const Vec<F>& k, int Hm, int Dm, int C);
// Chunk selection for one query head: q [Dm], kbar [>= c, Hm, Dm], head h, c = current chunk index.
// c <= K: all chunks 0..c-1. Else the K chunks j < c with the largest q . kbar_j (ties -> lower j).
// Returned in increasing j.
template <class F> std::vector<int> select_chunks(const F* q, const Vec<F>& kbar, int h, int Hm, int Dm,
                                                  int c, int K);
// Sparse chunk memory attention. q [T, Hm, Dm] at positions pos0..pos0+T-1; k, v [S, Hm, Dm] at
// positions 0..S-1 (S >= pos0 + T). Query t in chunk c = t / C attends, per head, over all tokens of
// select_chunks(...) plus positions cC..t; softmax of q.k / sqrt(Dm). -> [T, Hm * Dm]
template <class F> Vec<F> memory_attention(const Vec<F>& q, const Vec<F>& k, const Vec<F>& v, int Hm, int Dm,
                                           int C, int K, int pos0 = 0);

} // namespace vkc::ref
