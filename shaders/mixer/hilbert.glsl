// Hilbert curve on a G x G grid (G a power of two), the spec's iterative conversion taken literally
// (shared/spec/convgpt-v2.md "Hilbert packing"); hilbert_xy2d is its exact inverse. Exact for every G
// with G*G <= 2^32.
#ifndef VKC_HILBERT_GLSL
#define VKC_HILBERT_GLSL

uvec2 hilbert_d2xy(uint G, uint t) {
    uint x = 0u, y = 0u, rest = t;
    for (uint s = 1u; s < G; s *= 2u) {
        const uint rx = 1u & (rest / 2u);
        const uint ry = 1u & (rest ^ rx);
        if (ry == 0u) {
            if (rx == 1u) { x = s - 1u - x; y = s - 1u - y; }
            const uint tmp = x; x = y; y = tmp;
        }
        x += s * rx;
        y += s * ry;
        rest /= 4u;
    }
    return uvec2(x, y);
}

uint hilbert_xy2d(uint G, uint x, uint y) {
    uint d = 0u;
    for (uint s = G / 2u; s > 0u; s /= 2u) {
        const uint rx = (x & s) != 0u ? 1u : 0u;
        const uint ry = (y & s) != 0u ? 1u : 0u;
        d += s * s * ((3u * rx) ^ ry);
        // undo this level's rotation (only the bits below s matter from here on)
        if (ry == 0u) {
            if (rx == 1u) { x = G - 1u - x; y = G - 1u - y; }
            const uint tmp = x; x = y; y = tmp;
        }
    }
    return d;
}

#endif
