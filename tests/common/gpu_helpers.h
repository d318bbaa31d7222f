// Test-only GPU helpers: host-visible buffers from vectors, one-shot recording, weight tensors.
#pragma once
#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#include "model/kernels/kernel.h"
#include "model/safetensors.h"
#include "runtime/command.h"
#include "tests/common/test_env.h"

namespace vkc::test {

// Owns many small host-visible arenas (one per buffer: fine for tests, not for the runtime).
class Buffers {
public:
    BufferRef zeros(size_t bytes) {
        arenas_.push_back(std::make_unique<Arena>(ctx(), MemoryKind::host, "test"));
        int s = arenas_.back()->reserve(bytes);
        arenas_.back()->allocate();
        BufferRef r = arenas_.back()->ref(s);
        std::memset(r.mapped, 0, r.size);
        return r;
    }
    template <class T>
    BufferRef from(const std::vector<T>& v) {
        BufferRef r = zeros(v.size() * sizeof(T));
        std::memcpy(r.mapped, v.data(), v.size() * sizeof(T));
        return r;
    }
    template <class T = float>
    std::vector<T> read(const BufferRef& r, size_t n) const {
        std::vector<T> v(n);
        std::memcpy(v.data(), r.mapped, n * sizeof(T));
        return v;
    }
    // W [rows, cols] as f32 or packed f16, split into parts of rows_per_part rows (0: one part).
    WeightTensor weight(const std::vector<float>& w, int64_t rows, int64_t cols, WeightType type,
                        int64_t rows_per_part = 0) {
        WeightTensor t;
        t.type = type;
        t.rows = rows;
        t.cols = cols;
        t.rows_per_part = rows_per_part > 0 ? rows_per_part : rows;
        for (int64_t r0 = 0; r0 < rows; r0 += t.rows_per_part) {
            int64_t n = std::min(t.rows_per_part, rows - r0) * cols;
            if (type == WeightType::f32) {
                t.parts.push_back(from(std::vector<float>(w.begin() + r0 * cols, w.begin() + r0 * cols + n)));
            } else {
                std::vector<uint16_t> h((n + 1) / 2 * 2, 0);
                for (int64_t i = 0; i < n; ++i) h[i] = f32_to_f16(w[r0 * cols + i]);
                t.parts.push_back(from(h));
            }
        }
        return t;
    }
    // Values as the GPU sees them after f16 rounding (for references of f16 variants).
    static std::vector<float> round_f16(const std::vector<float>& w) {
        std::vector<float> r(w.size());
        for (size_t i = 0; i < w.size(); ++i) r[i] = f16_to_f32(f32_to_f16(w[i]));
        return r;
    }
    DescriptorArena& sets() {
        if (!sets_) sets_ = std::make_unique<DescriptorArena>(ctx());
        return *sets_;
    }

private:
    std::vector<std::unique_ptr<Arena>> arenas_;
    std::unique_ptr<DescriptorArena> sets_;
};

// Records `body` into a fresh command buffer, submits it and waits.
inline void run_once(const std::function<void(Recorder&)>& body) {
    CommandBuffer cb(ctx());
    Recorder rec(cb.begin(true));
    body(rec);
    rec.host_read_barrier();
    cb.end();
    cb.submit_and_wait();
}

inline KernelEnv& env() {
    static KernelEnv e{ctx(), cache()};
    return e;
}

} // namespace vkc::test
