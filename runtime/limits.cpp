#include "runtime/limits.h"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include "runtime/status.h"

namespace vkc {

namespace {

[[noreturn]] void bad(const std::string& what) { fail(Status::invalid_argument, "VKCONVGPT_LIMITS: " + what); }

uint64_t parse_bytes(const std::string& key, const std::string& v) {
    char* end = nullptr;
    unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || end == v.c_str()) bad(key + "='" + v + "' is not a byte count");
    std::string suf(end);
    if (suf == "K" || suf == "k" || suf == "KiB") n <<= 10;
    else if (suf == "M" || suf == "MiB") n <<= 20;
    else if (suf == "G" || suf == "GiB") n <<= 30;
    else if (!suf.empty()) bad(key + "='" + v + "' has an unknown unit (K, M, G)");
    return n;
}

bool parse_bool(const std::string& key, const std::string& v) {
    if (v == "1" || v == "true") return true;
    if (v == "0" || v == "false") return false;
    bad(key + "='" + v + "' is not 0/1/true/false");
}

void apply_key(LimitsProfile& p, const std::string& key, const std::string& v) {
    if (key == "name") return;
    if (key == "max_storage_buffer_range") {
        p.max_storage_buffer_range = parse_bytes(key, v);
        if (p.max_storage_buffer_range < 4096) bad("max_storage_buffer_range must be >= 4096");
    } else if (key == "max_shared_memory") {
        p.max_shared_memory = (uint32_t)parse_bytes(key, v);
    } else if (key == "memory_budget") {
        p.memory_budget = parse_bytes(key, v);
    } else if (key == "subgroup_size") {
        uint64_t n = parse_bytes(key, v);
        if (n == 0 || n > 256 || (n & (n - 1))) bad("subgroup_size " + v + " is not a power of two <= 256");
        p.subgroup_size = (uint32_t)n;
        p.subgroup_pick = 0;
    } else if (key == "fp16_arith") p.no_fp16_arith = !parse_bool(key, v);
    else if (key == "storage8") p.no_storage8 = !parse_bool(key, v);
    else if (key == "storage16") p.no_storage16 = !parse_bool(key, v);
    else if (key == "int_dot") p.no_int_dot = !parse_bool(key, v);
    else if (key == "subgroup_arith") p.no_subgroup_arith = !parse_bool(key, v);
    else bad("unknown key '" + key + "'");
}

void apply_mobile(LimitsProfile& p) {
    p.max_storage_buffer_range = kMobileBufferRange;
    p.max_shared_memory = kMobileSharedMemory;
    p.no_fp16_arith = p.no_storage8 = p.no_int_dot = p.no_subgroup_arith = true;
}

// A flat JSON object of numbers, strings and booleans (the only shape a profile file has).
void apply_json_file(LimitsProfile& p, const std::string& path) {
    std::ifstream in(path);
    if (!in) fail(Status::io_error, "VKCONVGPT_LIMITS: cannot read profile file " + path);
    std::string s((std::istreambuf_iterator<char>(in)), {});
    size_t i = 0;
    auto ws = [&] { while (i < s.size() && std::isspace((unsigned char)s[i])) ++i; };
    auto err = [&](const char* what) { bad(path + ": " + what + " at byte " + std::to_string(i)); };
    auto str = [&] {
        if (s[i] != '"') err("expected a string");
        size_t j = s.find('"', i + 1);
        if (j == std::string::npos) err("unterminated string");
        std::string r = s.substr(i + 1, j - i - 1);
        i = j + 1;
        return r;
    };
    ws();
    if (i >= s.size() || s[i] != '{') err("expected '{'");
    ++i;
    ws();
    if (i < s.size() && s[i] == '}') return;
    for (;;) {
        ws();
        std::string key = str();
        ws();
        if (i >= s.size() || s[i] != ':') err("expected ':'");
        ++i;
        ws();
        std::string val;
        if (i < s.size() && s[i] == '"') val = str();
        else {
            size_t j = i;
            while (j < s.size() && (std::isalnum((unsigned char)s[j]) || s[j] == '.')) ++j;
            val = s.substr(i, j - i);
            i = j;
        }
        if (key == "name") p.name = val;
        else if (key == "profile") { // built-in base, e.g. "mobile"
            if (val != "mobile") bad(path + ": unknown base profile '" + val + "'");
            apply_mobile(p);
        } else apply_key(p, key, val);
        ws();
        if (i < s.size() && s[i] == ',') { ++i; continue; }
        if (i < s.size() && s[i] == '}') break;
        err("expected ',' or '}'");
    }
}

std::string mib(uint64_t b) {
    if (b % (1u << 20) == 0) return std::to_string(b >> 20) + " MiB";
    if (b % 1024 == 0) return std::to_string(b >> 10) + " KiB";
    return std::to_string(b) + " B";
}

} // namespace

LimitsProfile parse_limits_profile(const std::string& spec) {
    LimitsProfile p;
    if (spec.empty()) return p;
    std::stringstream ss(spec);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (item.empty()) continue;
        size_t eq = item.find('=');
        if (item.find('/') != std::string::npos || (item.size() > 5 && item.compare(item.size() - 5, 5, ".json") == 0)) {
            LimitsProfile f = p;
            f.name.clear();
            apply_json_file(f, item);
            std::string n = f.name.empty() ? item : f.name;
            p = f;
            p.name = n;
            continue;
        } else if (eq != std::string::npos) {
            apply_key(p, item.substr(0, eq), item.substr(eq + 1));
        } else if (item == "mobile") {
            apply_mobile(p);
        } else if (item == "mobile-split") {
            apply_mobile(p);
            p.max_storage_buffer_range = kMobileSplitBufferRange;
        } else if (item == "sgmin" || item == "sgmax") {
            p.subgroup_pick = item == "sgmin" ? 'n' : 'x';
            p.subgroup_size = 0;
        } else if (item.size() > 2 && item.compare(0, 2, "sg") == 0 &&
                   item.find_first_not_of("0123456789", 2) == std::string::npos) {
            apply_key(p, "subgroup_size", item.substr(2));
        } else {
            bad("unknown profile '" + item + "' (built-in: mobile, mobile-split, sg8..sg128, sgmin, sgmax; or key=value, or a JSON file)");
        }
    }
    p.name = spec;
    return p;
}

std::string LimitsProfile::describe() const {
    if (!active()) return "none";
    std::ostringstream o;
    o << name << ":";
    const char* sep = " ";
    auto add = [&](const std::string& s) { o << sep << s; sep = ", "; };
    if (max_storage_buffer_range) add("maxStorageBufferRange " + mib(max_storage_buffer_range));
    if (max_shared_memory) add("shared memory " + mib(max_shared_memory));
    if (memory_budget) add("memory budget " + mib(memory_budget));
    if (subgroup_size) add("required subgroup size " + std::to_string(subgroup_size));
    if (no_fp16_arith) add("no fp16 arithmetic");
    if (no_storage8) add("no 8-bit storage");
    if (no_storage16) add("no 16-bit storage");
    if (no_int_dot) add("no integer dot product");
    if (no_subgroup_arith) add("no subgroup arithmetic");
    return o.str();
}

} // namespace vkc
