// CPU reference ops, see ref_ops.h. Every sum and transcendental is evaluated in double.
#include "tests/ref/ref_ops.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace vkc::ref {

namespace {
void check(bool ok, const char* what) {
    if (!ok) throw std::invalid_argument(std::string("vkc::ref: ") + what);
}
double silu1(double x) { return x / (1.0 + std::exp(-x)); }
double sigmoid1(double x) { return 1.0 / (1.0 + std::exp(-x)); }
} // namespace

// ---------------------------------------------------------------- common

template <class F> Vec<F> rmsnorm(const Vec<F>& x, const Vec<F>& w, double eps) {
    const size_t n = w.size();
    check(n > 0 && x.size() % n == 0, "rmsnorm: x is not [T, n]");
    Vec<F> y(x.size());
    for (size_t r = 0; r < x.size() / n; r++) {
        const F* xr = &x[r * n];
        double ss = 0;
        for (size_t i = 0; i < n; i++) ss += double(xr[i]) * double(xr[i]);
        double inv = 1.0 / std::sqrt(ss / double(n) + eps);
        for (size_t i = 0; i < n; i++) y[r * n + i] = F(double(xr[i]) * inv * double(w[i]));
    }
    return y;
}

template <class F> Vec<F> matmul(const Vec<F>& x, const Vec<F>& w, int n, int k) {
    check(k > 0 && x.size() % size_t(k) == 0, "matmul: x is not [T, k]");
    check(w.size() == size_t(n) * size_t(k), "matmul: w is not [n, k]");
    const size_t T = x.size() / size_t(k);
    Vec<F> y(T * size_t(n));
    for (size_t t = 0; t < T; t++)
        for (int o = 0; o < n; o++) {
            double s = 0;
            for (int i = 0; i < k; i++) s += double(x[t * k + i]) * double(w[size_t(o) * k + i]);
            y[t * n + o] = F(s);
        }
    return y;
}

template <class F> Vec<F> silu(const Vec<F>& x) {
    Vec<F> y(x.size());
    for (size_t i = 0; i < x.size(); i++) y[i] = F(silu1(double(x[i])));
    return y;
}

template <class F> Vec<F> sigmoid(const Vec<F>& x) {
    Vec<F> y(x.size());
    for (size_t i = 0; i < x.size(); i++) y[i] = F(sigmoid1(double(x[i])));
    return y;
}

template <class F> Vec<F> swiglu(const Vec<F>& gate, const Vec<F>& up) {
    check(gate.size() == up.size(), "swiglu: gate and up differ in size");
    Vec<F> y(gate.size());
    for (size_t i = 0; i < gate.size(); i++) y[i] = F(silu1(double(gate[i])) * double(up[i]));
    return y;
}

template <class F> Vec<F> mlp(const Vec<F>& x, const Vec<F>& gate, const Vec<F>& up, const Vec<F>& down,
                              int d, int inter, int n) {
    return matmul(swiglu(matmul(x, gate, inter, d), matmul(x, up, inter, d)), down, n, inter);
}

template <class F> void add_inplace(Vec<F>& x, const Vec<F>& y) {
    check(x.size() == y.size(), "add_inplace: sizes differ");
    for (size_t i = 0; i < x.size(); i++) x[i] = F(double(x[i]) + double(y[i]));
}

template <class F> int argmax(const F* row, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (row[i] > row[best]) best = i;
    return best;
}

std::vector<double> rope_inv_freq(int hd, double theta, bool f32) {
    std::vector<double> inv(size_t(hd / 2));
    for (int i = 0; i < hd / 2; i++) {
        if (f32) {
            // torch: 1.0 / (base ** (arange(0, hd, 2).float() / hd)), every step rounded to float32
            const float expo = float(2 * i) / float(hd);
            const float p = float(std::pow(double(float(theta)), double(expo)));
            inv[size_t(i)] = double(float(1.0 / double(p)));
        } else {
            inv[size_t(i)] = std::pow(theta, -double(2 * i) / double(hd));
        }
    }
    return inv;
}

template <class F> void rope(Vec<F>& x, int heads, int hd, int pos0, double theta, bool f32_inv_freq) {
    check(hd % 2 == 0 && heads > 0 && x.size() % (size_t(heads) * hd) == 0, "rope: x is not [T, heads, hd]");
    const std::vector<double> inv = rope_inv_freq(hd, theta, f32_inv_freq);
    const int half = hd / 2;
    const size_t T = x.size() / (size_t(heads) * hd);
    for (size_t t = 0; t < T; t++) {
        const double pos = double(pos0 + int64_t(t));
        for (int h = 0; h < heads; h++) {
            F* r = &x[(t * heads + h) * hd];
            for (int i = 0; i < half; i++) {
                const double ang = pos * inv[size_t(i)];
                const double c = std::cos(ang), s = std::sin(ang);
                const double a = double(r[i]), b = double(r[i + half]);
                r[i] = F(a * c - b * s);
                r[i + half] = F(b * c + a * s);
            }
        }
    }
}

// ---------------------------------------------------------------- ConvGPT v1

template <class F> Vec<F> embed_conv_pool_norm(const Vec<F>& erow, const Vec<F>& convw, double g,
                                               int e, int f, int k) {
    check(erow.size() == size_t(e) * e, "embed_conv_pool_norm: erow is not [e*e]");
    check(convw.size() == size_t(e) * e * k, "embed_conv_pool_norm: convw is not [e, e, 1, k]");
    check(f > 0 && e % f == 0, "embed_conv_pool_norm: f does not divide e");
    // Y[o][w] = sum_i sum_j K[o][i][0][j] * X[i][w + j - (k-1)], X[c][w] = erow[c*e + w]
    std::vector<double> y(size_t(e) * e, 0.0);
    for (int o = 0; o < e; o++)
        for (int w = 0; w < e; w++) {
            double s = 0;
            for (int i = 0; i < e; i++)
                for (int j = 0; j < k; j++) {
                    int src = w + j - (k - 1);
                    if (src < 0) continue;
                    s += double(convw[(size_t(o) * e + i) * k + j]) * double(erow[size_t(i) * e + src]);
                }
            y[size_t(o) * e + w] = s;
        }
    // P[a][b] = mean_{u,v < f} Y[a*f+u][b*f+v], flattened row-major
    const int p = e / f;
    std::vector<double> pool(size_t(p) * p, 0.0);
    for (int a = 0; a < p; a++)
        for (int b = 0; b < p; b++) {
            double s = 0;
            for (int u = 0; u < f; u++)
                for (int v = 0; v < f; v++) s += y[size_t(a * f + u) * e + (b * f + v)];
            pool[size_t(a) * p + b] = s / double(f * f);
        }
    // ScaleNorm
    double ss = 0;
    for (double v : pool) ss += v * v;
    const double denom = std::max(std::sqrt(ss) / std::sqrt(double(pool.size())), 1e-5);
    Vec<F> out(pool.size());
    for (size_t i = 0; i < pool.size(); i++) out[i] = F(pool[i] / denom * g);
    return out;
}

template <class F> void qk_norm_rope(Vec<F>& x, const Vec<F>& w, double eps, int heads, int pos0,
                                     double theta, bool f32_inv_freq) {
    x = rmsnorm(x, w, eps); // rows of hd values = one head of one token
    rope(x, heads, int(w.size()), pos0, theta, f32_inv_freq);
}

template <class F> Vec<F> attention(const Vec<F>& q, const Vec<F>& k, const Vec<F>& v, int nh, int nkv,
                                    int hd, int pos0, int sliding_window) {
    check(nkv > 0 && nh % nkv == 0, "attention: nh is not a multiple of nkv");
    check(q.size() % (size_t(nh) * hd) == 0, "attention: q is not [T, nh, hd]");
    check(k.size() % (size_t(nkv) * hd) == 0 && k.size() == v.size(), "attention: k/v are not [S, nkv, hd]");
    const int T = int(q.size() / (size_t(nh) * hd));
    const int S = int(k.size() / (size_t(nkv) * hd));
    check(pos0 + T <= S, "attention: keys do not cover the queries");
    const double scale = 1.0 / std::sqrt(double(hd));
    Vec<F> out(size_t(T) * nh * hd);
    std::vector<double> sc(static_cast<size_t>(S));
    for (int t = 0; t < T; t++) {
        const int i = pos0 + t;
        for (int h = 0; h < nh; h++) {
            const int kh = h / (nh / nkv);
            const F* qr = &q[(size_t(t) * nh + h) * hd];
            int j0 = 0;
            if (sliding_window > 0) j0 = std::max(0, i - sliding_window + 1); // i - j < window
            double mx = -INFINITY;
            for (int j = j0; j <= i; j++) {
                const F* kr = &k[(size_t(j) * nkv + kh) * hd];
                double s = 0;
                for (int c = 0; c < hd; c++) s += double(qr[c]) * double(kr[c]);
                sc[size_t(j)] = s * scale;
                mx = std::max(mx, sc[size_t(j)]);
            }
            double den = 0;
            for (int j = j0; j <= i; j++) den += (sc[size_t(j)] = std::exp(sc[size_t(j)] - mx));
            for (int c = 0; c < hd; c++) {
                double acc = 0;
                for (int j = j0; j <= i; j++) acc += sc[size_t(j)] * double(v[(size_t(j) * nkv + kh) * hd + c]);
                out[(size_t(t) * nh + h) * hd + c] = F(acc / den);
            }
        }
    }
    return out;
}

// ---------------------------------------------------------------- ConvGPT-v2

void hilbert_d2xy(int G, int64_t t, int* x, int* y) {
    int64_t rest = t;
    int xx = 0, yy = 0;
    for (int s = 1; s < G; s *= 2) {
        const int rx = int(1 & (rest / 2));
        const int ry = int(1 & (rest ^ rx));
        if (ry == 0) {
            if (rx == 1) {
                xx = s - 1 - xx;
                yy = s - 1 - yy;
            }
            std::swap(xx, yy);
        }
        xx += s * rx;
        yy += s * ry;
        rest /= 4;
    }
    *x = xx;
    *y = yy;
}

int64_t hilbert_xy2d(int G, int x, int y) {
    int64_t d = 0;
    for (int s = G / 2; s > 0; s /= 2) {
        const int rx = (x & s) > 0;
        const int ry = (y & s) > 0;
        d += int64_t(s) * s * ((3 * rx) ^ ry);
        // undo this level's rotation (only bits below s matter from here on)
        if (ry == 0) {
            if (rx == 1) {
                x = G - 1 - x;
                y = G - 1 - y;
            }
            std::swap(x, y);
        }
    }
    return d;
}

template <class F> Vec<F> conv1d_causal(const Vec<F>& a, const Vec<F>& w, const Vec<F>& bias, int k1) {
    const size_t d = bias.size();
    check(d > 0 && a.size() % d == 0, "conv1d_causal: a is not [T, d]");
    check(w.size() == d * size_t(k1), "conv1d_causal: w is not [d, k1]");
    const int T = int(a.size() / d);
    Vec<F> c(a.size());
    for (int t = 0; t < T; t++)
        for (size_t ch = 0; ch < d; ch++) {
            double s = double(bias[ch]);
            for (int j = 0; j < k1; j++) {
                const int src = t - (k1 - 1) + j;
                if (src >= 0) s += double(w[ch * k1 + j]) * double(a[size_t(src) * d + ch]);
            }
            c[size_t(t) * d + ch] = F(s);
        }
    return c;
}

template <class F> Vec<F> conv2d_hilbert(const Vec<F>& a, const Vec<F>& w, const Vec<F>& bias, int k2,
                                         int G, int pos0) {
    const size_t d = bias.size();
    check(d > 0 && a.size() % d == 0, "conv2d_hilbert: a is not [S, d]");
    check(k2 % 2 == 1 && w.size() == d * k2 * k2, "conv2d_hilbert: w is not [d, k2, k2] with odd k2");
    const int S = int(a.size() / d);
    check(pos0 >= 0 && pos0 <= S && int64_t(S) <= int64_t(G) * G, "conv2d_hilbert: bad pos0 / S > G*G");
    const int r = k2 / 2;
    Vec<F> c(size_t(S - pos0) * d);
    std::vector<double> acc(d);
    for (int t = pos0; t < S; t++) {
        int x, y;
        hilbert_d2xy(G, t, &x, &y);
        for (size_t ch = 0; ch < d; ch++) acc[ch] = double(bias[ch]);
        for (int dy = -r; dy <= r; dy++)
            for (int dx = -r; dx <= r; dx++) {
                const int nx = x + dx, ny = y + dy;
                if (nx < 0 || ny < 0 || nx >= G || ny >= G) continue;
                const int64_t p = hilbert_xy2d(G, nx, ny);
                if (p > t) continue;
                for (size_t ch = 0; ch < d; ch++)
                    acc[ch] += double(w[(ch * k2 + (dy + r)) * k2 + (dx + r)]) * double(a[size_t(p) * d + ch]);
            }
        for (size_t ch = 0; ch < d; ch++) c[size_t(t - pos0) * d + ch] = F(acc[ch]);
    }
    return c;
}

template <class F> Vec<F> gated_fusion(const Vec<F>& gate_pre, const Vec<F>& c1, const Vec<F>& c2,
                                       const Vec<F>& z) {
    check(gate_pre.size() == c1.size() && c1.size() == c2.size() && c2.size() == z.size(),
          "gated_fusion: sizes differ");
    Vec<F> y(z.size());
    for (size_t i = 0; i < z.size(); i++) {
        const double g = sigmoid1(double(gate_pre[i]));
        const double mix = g * silu1(double(c1[i])) + (1.0 - g) * silu1(double(c2[i]));
        y[i] = F(mix * silu1(double(z[i])));
    }
    return y;
}

template <class F> Vec<F> chunk_summaries(const Vec<F>& k, int Hm, int Dm, int C) {
    const size_t row = size_t(Hm) * Dm;
    check(row > 0 && C > 0 && k.size() % row == 0, "chunk_summaries: k is not [S, Hm, Dm]");
    const size_t n = k.size() / row / size_t(C);
    Vec<F> kbar(n * row);
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < row; i++) {
            double s = 0;
            for (int u = 0; u < C; u++) s += double(k[(j * C + u) * row + i]);
            kbar[j * row + i] = F(s / double(C));
        }
    return kbar;
}

template <class F> std::vector<int> select_chunks(const F* q, const Vec<F>& kbar, int h, int Hm, int Dm,
                                                  int c, int K) {
    check(kbar.size() >= size_t(c) * Hm * Dm, "select_chunks: fewer summaries than chunks");
    std::vector<int> sel;
    if (c <= K) {
        for (int j = 0; j < c; j++) sel.push_back(j);
        return sel;
    }
    std::vector<std::pair<double, int>> sc;
    for (int j = 0; j < c; j++) {
        const F* kb = &kbar[(size_t(j) * Hm + h) * Dm];
        double s = 0;
        for (int i = 0; i < Dm; i++) s += double(q[i]) * double(kb[i]);
        sc.push_back({s, j});
    }
    // larger score first, ties -> lower j
    std::stable_sort(sc.begin(), sc.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (int i = 0; i < K; i++) sel.push_back(sc[size_t(i)].second);
    std::sort(sel.begin(), sel.end());
    return sel;
}

template <class F> Vec<F> memory_attention(const Vec<F>& q, const Vec<F>& k, const Vec<F>& v, int Hm, int Dm,
                                           int C, int K, int pos0) {
    const size_t row = size_t(Hm) * Dm;
    check(row > 0 && q.size() % row == 0, "memory_attention: q is not [T, Hm, Dm]");
    check(k.size() % row == 0 && k.size() == v.size(), "memory_attention: k/v are not [S, Hm, Dm]");
    const int T = int(q.size() / row), S = int(k.size() / row);
    check(pos0 >= 0 && pos0 + T <= S, "memory_attention: keys do not cover the queries");
    const Vec<F> kbar = chunk_summaries(k, Hm, Dm, C);
    const double scale = 1.0 / std::sqrt(double(Dm));
    Vec<F> out(size_t(T) * row);
    for (int tt = 0; tt < T; tt++) {
        const int t = pos0 + tt, c = t / C;
        for (int h = 0; h < Hm; h++) {
            const F* qr = &q[size_t(tt) * row + size_t(h) * Dm];
            std::vector<int> keys; // positions attended, in increasing order
            for (int j : select_chunks(qr, kbar, h, Hm, Dm, c, K))
                for (int u = 0; u < C; u++) keys.push_back(j * C + u);
            for (int p = c * C; p <= t; p++) keys.push_back(p);
            std::vector<double> sc(keys.size());
            double mx = -INFINITY;
            for (size_t n = 0; n < keys.size(); n++) {
                const F* kr = &k[size_t(keys[n]) * row + size_t(h) * Dm];
                double s = 0;
                for (int i = 0; i < Dm; i++) s += double(qr[i]) * double(kr[i]);
                sc[n] = s * scale;
                mx = std::max(mx, sc[n]);
            }
            double den = 0;
            for (double& s : sc) den += (s = std::exp(s - mx));
            for (int i = 0; i < Dm; i++) {
                double acc = 0;
                for (size_t n = 0; n < keys.size(); n++) acc += sc[n] * double(v[size_t(keys[n]) * row + size_t(h) * Dm + i]);
                out[size_t(tt) * row + size_t(h) * Dm + i] = F(acc / den);
            }
        }
    }
    return out;
}

// ---------------------------------------------------------------- instantiations

#define VKC_REF_INSTANTIATE(F)                                                                            \
    template Vec<F> rmsnorm(const Vec<F>&, const Vec<F>&, double);                                        \
    template Vec<F> matmul(const Vec<F>&, const Vec<F>&, int, int);                                       \
    template Vec<F> silu(const Vec<F>&);                                                                  \
    template Vec<F> sigmoid(const Vec<F>&);                                                               \
    template Vec<F> swiglu(const Vec<F>&, const Vec<F>&);                                                 \
    template Vec<F> mlp(const Vec<F>&, const Vec<F>&, const Vec<F>&, const Vec<F>&, int, int, int);       \
    template void add_inplace(Vec<F>&, const Vec<F>&);                                                    \
    template int argmax(const F*, int);                                                                   \
    template void rope(Vec<F>&, int, int, int, double, bool);                                                   \
    template Vec<F> embed_conv_pool_norm(const Vec<F>&, const Vec<F>&, double, int, int, int);            \
    template void qk_norm_rope(Vec<F>&, const Vec<F>&, double, int, int, double, bool);                         \
    template Vec<F> attention(const Vec<F>&, const Vec<F>&, const Vec<F>&, int, int, int, int, int);      \
    template Vec<F> conv1d_causal(const Vec<F>&, const Vec<F>&, const Vec<F>&, int);                      \
    template Vec<F> conv2d_hilbert(const Vec<F>&, const Vec<F>&, const Vec<F>&, int, int, int);           \
    template Vec<F> gated_fusion(const Vec<F>&, const Vec<F>&, const Vec<F>&, const Vec<F>&);             \
    template Vec<F> chunk_summaries(const Vec<F>&, int, int, int);                                        \
    template std::vector<int> select_chunks(const F*, const Vec<F>&, int, int, int, int, int);            \
    template Vec<F> memory_attention(const Vec<F>&, const Vec<F>&, const Vec<F>&, int, int, int, int, int);

VKC_REF_INSTANTIATE(float)
VKC_REF_INSTANTIATE(double)

} // namespace vkc::ref
