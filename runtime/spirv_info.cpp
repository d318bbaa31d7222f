#include "runtime/spirv_info.h"

#include <unordered_map>

namespace vkc {

namespace {
// Opcodes and enums used (SPIR-V 1.x unified spec).
enum : uint32_t {
    OpExecutionMode = 16, OpTypeBool = 20, OpTypeInt = 21, OpTypeFloat = 22, OpTypeVector = 23,
    OpTypeMatrix = 24, OpTypeArray = 28, OpTypeStruct = 30, OpTypePointer = 32, OpConstantTrue = 41,
    OpConstantFalse = 42, OpConstant = 43, OpConstantComposite = 44, OpSpecConstantTrue = 48,
    OpSpecConstantFalse = 49, OpSpecConstant = 50, OpSpecConstantComposite = 51, OpSpecConstantOp = 52,
    OpVariable = 59, OpDecorate = 71, OpExecutionModeId = 331,
    DecSpecId = 1, DecBuiltIn = 11, BuiltInWorkgroupSize = 25, StorageWorkgroup = 4, ModeLocalSize = 17,
    ModeLocalSizeId = 38,
};

bool eval_op(uint32_t op, const std::vector<uint64_t>& a, uint64_t& r) {
    auto n = a.size();
    switch (op) {
    case 128: if (n < 2) return false; r = a[0] + a[1]; return true;                    // IAdd
    case 130: if (n < 2) return false; r = a[0] - a[1]; return true;                    // ISub
    case 132: if (n < 2) return false; r = a[0] * a[1]; return true;                    // IMul
    case 134: case 135: if (n < 2 || !a[1]) return false; r = a[0] / a[1]; return true; // UDiv, SDiv
    case 137: case 139: if (n < 2 || !a[1]) return false; r = a[0] % a[1]; return true; // UMod, SMod
    case 194: if (n < 2) return false; r = a[0] >> a[1]; return true;                   // ShiftRightLogical
    case 196: if (n < 2) return false; r = a[0] << a[1]; return true;                   // ShiftLeftLogical
    case 197: if (n < 2) return false; r = a[0] | a[1]; return true;                    // BitwiseOr
    case 199: if (n < 2) return false; r = a[0] & a[1]; return true;                    // BitwiseAnd
    case 169: if (n < 3) return false; r = a[0] ? a[1] : a[2]; return true;             // Select
    case 170: if (n < 2) return false; r = a[0] == a[1]; return true;                   // IEqual
    case 171: if (n < 2) return false; r = a[0] != a[1]; return true;                   // INotEqual
    case 172: case 173: if (n < 2) return false; r = a[0] > a[1]; return true;          // U/SGreaterThan
    case 174: case 175: if (n < 2) return false; r = a[0] >= a[1]; return true;
    case 176: case 177: if (n < 2) return false; r = a[0] < a[1]; return true;
    case 178: case 179: if (n < 2) return false; r = a[0] <= a[1]; return true;
    case 113: case 114: case 124: if (n < 1) return false; r = a[0]; return true;       // UConvert, SConvert, Bitcast
    default: return false;
    }
}
} // namespace

SpirvInfo reflect_spirv(const uint32_t* code, size_t words, const std::vector<uint32_t>& spec) {
    SpirvInfo info;
    if (words < 5 || code[0] != 0x07230203u) return info;
    std::unordered_map<uint32_t, uint32_t> spec_id;              // result id -> SpecId
    std::unordered_map<uint32_t, uint64_t> value;                // constant id -> value
    std::unordered_map<uint32_t, std::vector<uint32_t>> composite;
    std::unordered_map<uint32_t, uint64_t> tsize;                // type id -> bytes
    std::unordered_map<uint32_t, uint32_t> pointee;              // pointer type id -> pointee type
    uint32_t wg_builtin = 0, local_size_ids[3] = {0, 0, 0};
    bool ok = true, has_local_size = false;
    for (size_t i = 5; i < words;) {
        const uint32_t op = code[i] & 0xffffu, len = code[i] >> 16;
        if (len == 0 || i + len > words) return info;
        const uint32_t* w = code + i;
        switch (op) {
        case OpDecorate:
            if (len >= 4 && w[2] == DecSpecId) spec_id[w[1]] = w[3];
            if (len >= 4 && w[2] == DecBuiltIn && w[3] == BuiltInWorkgroupSize) wg_builtin = w[1];
            break;
        case OpExecutionMode:
            if (len >= 6 && w[2] == ModeLocalSize) {
                for (int k = 0; k < 3; ++k) info.local_size[k] = w[3 + k];
                has_local_size = true;
            }
            break;
        case OpExecutionModeId:
            if (len >= 6 && w[2] == ModeLocalSizeId)
                for (int k = 0; k < 3; ++k) local_size_ids[k] = w[3 + k];
            break;
        case OpTypeBool: tsize[w[1]] = 4; break;
        case OpTypeInt: case OpTypeFloat: tsize[w[1]] = w[2] / 8; break;
        case OpTypeVector: case OpTypeMatrix: tsize[w[1]] = tsize[w[2]] * w[3]; break;
        case OpTypeArray:
            if (value.count(w[3])) tsize[w[1]] = tsize[w[2]] * value[w[3]];
            else ok = false;
            break;
        case OpTypeStruct: {
            uint64_t s = 0;
            for (uint32_t k = 2; k < len; ++k) s += tsize[w[k]];
            tsize[w[1]] = s;
            break;
        }
        case OpTypePointer: pointee[w[1]] = w[3]; break;
        case OpConstantTrue: case OpSpecConstantTrue: value[w[2]] = 1; break;
        case OpConstantFalse: case OpSpecConstantFalse: value[w[2]] = 0; break;
        case OpConstant: value[w[2]] = len > 3 ? w[3] : 0; break;
        case OpSpecConstant: value[w[2]] = len > 3 ? w[3] : 0; break;
        case OpConstantComposite: case OpSpecConstantComposite:
            composite[w[2]].assign(w + 3, w + len);
            break;
        case OpSpecConstantOp: {
            std::vector<uint64_t> a;
            bool known = true;
            for (uint32_t k = 4; k < len; ++k) {
                auto it = value.find(w[k]);
                if (it == value.end()) { known = false; break; }
                a.push_back(it->second);
            }
            uint64_t r = 0;
            if (known && eval_op(w[3], a, r)) value[w[2]] = r & 0xffffffffu;
            break; // unknown ops only matter if an array length uses them (then ok = false above)
        }
        case OpVariable:
            if (len >= 4 && w[3] == StorageWorkgroup) {
                auto p = pointee.find(w[1]);
                if (p == pointee.end() || !tsize.count(p->second)) ok = false;
                else info.shared_bytes += tsize[p->second];
            }
            break;
        default: break;
        }
        // Specialization: OpSpecConstant values are replaced as soon as they are defined, so later
        // OpSpecConstantOp / OpTypeArray see the specialized values.
        if (op == OpSpecConstant || op == OpSpecConstantTrue || op == OpSpecConstantFalse) {
            auto s = spec_id.find(w[2]);
            if (s != spec_id.end() && s->second < spec.size()) {
                uint64_t v = spec[s->second];
                if (op != OpSpecConstant) v = v != 0;
                value[w[2]] = v;
            }
        }
        i += len;
    }
    auto lookup = [&](uint32_t id, uint32_t& out) {
        auto it = value.find(id);
        if (it == value.end()) return false;
        out = (uint32_t)it->second;
        return true;
    };
    if (wg_builtin && composite.count(wg_builtin)) {
        const auto& c = composite[wg_builtin];
        for (size_t k = 0; k < 3 && k < c.size(); ++k) ok = lookup(c[k], info.local_size[k]) && ok;
    } else if (local_size_ids[0]) {
        for (int k = 0; k < 3; ++k) ok = lookup(local_size_ids[k], info.local_size[k]) && ok;
    } else if (!has_local_size) {
        ok = false;
    }
    info.ok = ok;
    return info;
}

} // namespace vkc
