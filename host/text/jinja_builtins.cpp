// Jinja subset: conversions (Python str/repr, transformers' tojson), attribute and item access, filters,
// tests, string/dict methods and global functions. Case mappings (upper/lower/title/capitalize) are ASCII
// only and refuse text with other letters rather than return it unchanged.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "host/text/jinja.h"
#include "host/text/unicode.h"

namespace vkc::jinja {
namespace {

[[noreturn]] void terr(const std::string& m, int line) { throw TemplateError{m, line}; }

std::vector<std::string> code_points(const std::string& s) {
    std::vector<std::string> out;
    for (size_t i = 0; i < s.size();) {
        size_t b = i;
        uni::next_cp(s, i);
        out.push_back(s.substr(b, i - b));
    }
    return out;
}

bool py_space(char32_t c) { return uni::is_space(c) || (c >= 0x1C && c <= 0x1F); }

// Python str.strip / lstrip / rstrip: whitespace, or the characters of `chars`.
std::string strip(const std::string& s, const Value* chars, bool left, bool right) {
    auto cps = code_points(s);
    std::vector<std::string> set;
    bool custom = chars && chars->type == Value::string;
    if (custom) set = code_points(chars->s);
    auto drop = [&](const std::string& c) {
        if (custom) return std::find(set.begin(), set.end(), c) != set.end();
        size_t i = 0;
        return py_space(uni::next_cp(c, i));
    };
    size_t b = 0, e = cps.size();
    if (left) while (b < e && drop(cps[b])) ++b;
    if (right) while (e > b && drop(cps[e - 1])) --e;
    std::string out;
    for (size_t i = b; i < e; ++i) out += cps[i];
    return out;
}

std::string ascii_case(const std::string& s, const char* what, int line, int mode) { // 0 lower, 1 upper
    std::string out = s;
    for (size_t i = 0; i < s.size();) {
        char32_t c = uni::next_cp(s, i);
        if (c >= 0x80 && uni::is_letter(c)) terr(std::string(what) + " of non-ASCII letters is not supported", line);
    }
    for (char& c : out) c = mode ? (char)std::toupper((unsigned char)c) : (char)std::tolower((unsigned char)c);
    return out;
}

std::string fmt_float(double x) {
    if (std::isnan(x)) return "nan";
    if (std::isinf(x)) return x < 0 ? "-inf" : "inf";
    char buf[64];
    for (int p = 1; p <= 17; ++p) {
        std::snprintf(buf, sizeof buf, "%.*e", p - 1, x);
        if (std::strtod(buf, nullptr) == x) break;
    }
    std::string m(buf), digits;
    bool neg = m[0] == '-';
    size_t epos = m.find('e');
    int exp = std::atoi(m.c_str() + epos + 1);
    for (size_t i = neg; i < epos; ++i) if (m[i] != '.') digits += m[i];
    while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
    std::string out = neg ? "-" : "";
    if (exp >= -4 && exp < 16) {
        if (exp >= 0) {
            std::string ip = digits.substr(0, std::min<size_t>(digits.size(), exp + 1));
            ip.append(exp + 1 - ip.size(), '0');
            std::string fp = digits.size() > (size_t)exp + 1 ? digits.substr(exp + 1) : "0";
            out += ip + "." + fp;
        } else {
            out += "0." + std::string(-exp - 1, '0') + digits;
        }
    } else {
        out += digits.substr(0, 1) + (digits.size() > 1 ? "." + digits.substr(1) : "");
        char e[16];
        std::snprintf(e, sizeof e, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
        out += e;
    }
    return out;
}

std::string json_string(const std::string& s, bool ensure_ascii) {
    std::string out = "\"";
    for (size_t i = 0; i < s.size();) {
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t b = i;
            char32_t cp = uni::next_cp(s, i);
            if (!ensure_ascii) { out.append(s, b, i - b); continue; }
            char buf[16];
            if (cp >= 0x10000) {
                cp -= 0x10000;
                std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + (unsigned)(cp >> 10), 0xDC00 + (unsigned)(cp & 0x3FF));
            } else {
                std::snprintf(buf, sizeof buf, "\\u%04x", (unsigned)cp);
            }
            out += buf;
            continue;
        }
        ++i;
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (c < 0x20) { char buf[8]; std::snprintf(buf, sizeof buf, "\\u%04x", c); out += buf; }
            else out += (char)c;
        }
    }
    return out + "\"";
}

// Python json.dumps(v, ensure_ascii, indent, sort_keys) with the default separators.
std::string to_json(const Value& v, int indent, bool ensure_ascii, bool sort_keys, int level, int line) {
    auto nl = [&](int lv) { return indent < 0 ? std::string() : "\n" + std::string((size_t)(indent * lv), ' '); };
    const std::string sep = indent < 0 ? ", " : ",";
    switch (v.type) {
    case Value::none: return "null";
    case Value::boolean: return v.b ? "true" : "false";
    case Value::integer: return std::to_string(v.i);
    case Value::floating: return std::isinf(v.f) ? (v.f < 0 ? "-Infinity" : "Infinity") : std::isnan(v.f) ? "NaN" : fmt_float(v.f);
    case Value::string: return json_string(v.s, ensure_ascii);
    case Value::list: {
        if (v.l->empty()) return "[]";
        std::string out = "[";
        for (size_t i = 0; i < v.l->size(); ++i)
            out += (i ? sep : "") + nl(level + 1) + to_json((*v.l)[i], indent, ensure_ascii, sort_keys, level + 1, line);
        return out + nl(level) + "]";
    }
    case Value::dict: {
        if (v.d->items.empty()) return "{}";
        auto items = v.d->items;
        if (sort_keys) std::stable_sort(items.begin(), items.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
        std::string out = "{";
        for (size_t i = 0; i < items.size(); ++i)
            out += (i ? sep : "") + nl(level + 1) + json_string(items[i].first, ensure_ascii) + ": " +
                   to_json(items[i].second, indent, ensure_ascii, sort_keys, level + 1, line);
        return out + nl(level) + "}";
    }
    case Value::undefined: terr(v.s + " (not JSON serializable)", line);
    case Value::function: terr("a function is not JSON serializable", line);
    }
    return "";
}

int64_t to_int(const Value& v) {
    switch (v.type) {
    case Value::integer: return v.i;
    case Value::boolean: return v.b;
    case Value::floating: return (int64_t)v.f;
    case Value::string: {
        char* end = nullptr;
        std::string t = strip(v.s, nullptr, true, true);
        long long x = std::strtoll(t.c_str(), &end, 10);
        if (!t.empty() && end && *end == 0) return x;
        double d = std::strtod(t.c_str(), &end);
        return !t.empty() && end && *end == 0 ? (int64_t)d : 0;
    }
    default: return 0;
    }
}

const Value& need(const Args& a, size_t i, const char* name, const std::string& fn, int line) {
    const Value* v = a.get(i, name);
    if (!v) terr(fn + "() needs the argument '" + name + "'", line);
    return *v;
}

bool flag(const Args& a, size_t i, const char* name) {
    const Value* v = a.get(i, name);
    return v && truthy(*v);
}

const std::string& need_str(const Value& v, const std::string& what, int line) {
    if (v.type == Value::undefined) terr(v.s, line);
    if (v.type != Value::string) terr(what + " expects a string, got '" + type_name(v) + "'", line);
    return v.s;
}

std::string replace(const std::string& s, const std::string& from, const std::string& to, int64_t count, int line) {
    if (from.empty()) return s;
    std::string out;
    size_t i = 0;
    for (size_t at; count != 0 && (at = s.find(from, i)) != std::string::npos; i = at + from.size(), --count) {
        out.append(s, i, at - i).append(to);
        check_size(out.size(), line);
    }
    out.append(s, i, std::string::npos);
    check_size(out.size(), line);
    return out;
}

std::string title(const std::string& s, int line) { // Jinja's title: words split at whitespace - ( { [ <
    std::string lower = ascii_case(s, "title", line, 0), out;
    bool start = true;
    for (char c : lower) {
        out += start ? (char)std::toupper((unsigned char)c) : c;
        start = std::isspace((unsigned char)c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    }
    return out;
}

std::string indent(const std::string& s, const Value* width, bool first, bool blank, int line_no) {
    int64_t w = 4;
    if (width && width->type != Value::string) w = std::max<int64_t>(0, to_int(*width)); // ' ' * -3 == ''
    check_size((size_t)std::min<int64_t>(w, (int64_t)kMaxBuild + 1), line_no);
    std::string pad = width && width->type == Value::string ? width->s : std::string((size_t)w, ' ');
    std::string out;
    size_t i = 0;
    bool first_line = true;
    while (i <= s.size()) {
        size_t e = s.find('\n', i);
        std::string line = s.substr(i, e == std::string::npos ? std::string::npos : e - i);
        bool ws_only = strip(line, nullptr, true, true).empty();
        if ((first_line ? first : true) && (blank || !ws_only)) out += pad;
        out += line;
        check_size(out.size(), line_no);
        if (e == std::string::npos) break;
        out += '\n';
        i = e + 1;
        first_line = false;
    }
    return out;
}

} // namespace

const Value* Args::get(size_t i, const char* name) const {
    if (i < pos.size()) return &pos[i];
    for (const auto& [k, v] : kw)
        if (k == name) return &v;
    return nullptr;
}

bool truthy(const Value& v) {
    switch (v.type) {
    case Value::undefined: case Value::none: return false;
    case Value::boolean: return v.b;
    case Value::integer: return v.i != 0;
    case Value::floating: return v.f != 0;
    case Value::string: return !v.s.empty();
    case Value::list: return !v.l->empty();
    case Value::dict: return !v.d->items.empty();
    case Value::function: return true;
    }
    return false;
}

std::string type_name(const Value& v) {
    static const char* names[] = {"Undefined", "NoneType", "bool", "int", "float", "str", "list", "dict", "function"};
    return names[v.type];
}

std::string to_str(const Value& v) {
    switch (v.type) {
    case Value::undefined: return "";
    case Value::string: return v.s;
    default: return repr(v);
    }
}

std::string repr(const Value& v) {
    switch (v.type) {
    case Value::undefined: return "";
    case Value::function: return "<function " + v.s + ">";
    case Value::none: return "None";
    case Value::boolean: return v.b ? "True" : "False";
    case Value::integer: return std::to_string(v.i);
    case Value::floating: return fmt_float(v.f);
    case Value::string: {
        char q = v.s.find('\'') != std::string::npos && v.s.find('"') == std::string::npos ? '"' : '\'';
        std::string out(1, q);
        for (unsigned char c : v.s) {
            if (c == '\\' || c == (unsigned char)q) { out += '\\'; out += (char)c; }
            else if (c == '\n') out += "\\n";
            else if (c == '\r') out += "\\r";
            else if (c == '\t') out += "\\t";
            else if (c < 0x20 || c == 0x7F) { char b[8]; std::snprintf(b, sizeof b, "\\x%02x", c); out += b; }
            else out += (char)c;
        }
        return out + q;
    }
    case Value::list: {
        std::string out = v.is_tuple ? "(" : "[";
        for (size_t i = 0; i < v.l->size(); ++i) out += (i ? ", " : "") + repr((*v.l)[i]);
        if (v.is_tuple && v.l->size() == 1) out += ",";
        return out + (v.is_tuple ? ")" : "]");
    }
    case Value::dict: {
        std::string out = "{";
        for (size_t i = 0; i < v.d->items.size(); ++i)
            out += (i ? ", " : "") + repr(Value::str(v.d->items[i].first)) + ": " + repr(v.d->items[i].second);
        return out + "}";
    }
    }
    return "";
}

bool equal(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.type == Value::floating || b.type == Value::floating)
            return (a.type == Value::floating ? a.f : (double)(a.type == Value::boolean ? a.b : a.i)) ==
                   (b.type == Value::floating ? b.f : (double)(b.type == Value::boolean ? b.b : b.i));
        return (a.type == Value::boolean ? (int64_t)a.b : a.i) == (b.type == Value::boolean ? (int64_t)b.b : b.i);
    }
    if (a.type != b.type) return false;
    switch (a.type) {
    case Value::undefined: case Value::none: return true;
    case Value::string: case Value::function: return a.s == b.s;
    case Value::list:
        if (a.l->size() != b.l->size()) return false;
        for (size_t i = 0; i < a.l->size(); ++i)
            if (!equal((*a.l)[i], (*b.l)[i])) return false;
        return true;
    case Value::dict:
        if (a.d->items.size() != b.d->items.size()) return false;
        for (const auto& [k, v] : a.d->items) {
            const Value* o = b.d->find(k);
            if (!o || !equal(v, *o)) return false;
        }
        return true;
    default: return false;
    }
}

std::vector<Value> iterate(const Value& v, int line) {
    std::vector<Value> out;
    switch (v.type) {
    case Value::undefined: break;
    case Value::list: out = *v.l; break;
    case Value::dict: for (const auto& kv : v.d->items) out.push_back(Value::str(kv.first)); break;
    case Value::string: for (auto& c : code_points(v.s)) out.push_back(Value::str(c)); break;
    default: terr("'" + type_name(v) + "' object is not iterable", line);
    }
    return out;
}

Value get_attr(const Value& obj, const std::string& name, int line) {
    if (obj.type == Value::undefined) terr(obj.s, line);
    if (obj.type == Value::dict)
        if (const Value* v = obj.d->find(name)) return *v;
    return Value::undef("'" + type_name(obj) + " object' has no attribute '" + name + "'");
}

Value get_item(const Value& obj, const Value& key, int line) {
    if (obj.type == Value::undefined) terr(obj.s, line);
    if ((obj.type == Value::list || obj.type == Value::string) && (key.type == Value::integer || key.type == Value::boolean)) {
        std::vector<Value> items = obj.type == Value::list ? *obj.l : iterate(obj, line);
        int64_t i = key.type == Value::boolean ? key.b : key.i, n = (int64_t)items.size();
        if (i < 0) i += n;
        if (i >= 0 && i < n) return items[i];
        return Value::undef("index " + std::to_string(i) + " out of range");
    }
    if (obj.type == Value::dict && key.type == Value::string) {
        if (const Value* v = obj.d->find(key.s)) return *v;
        return Value::undef("'dict object' has no attribute '" + key.s + "'");
    }
    return Value::undef("'" + type_name(obj) + " object' has no item " + repr(key));
}

Value apply_filter(const std::string& f, const Value& v, const Args& a, int line) {
    auto str = [&](const Value& x) { return x.type == Value::undefined ? std::string() : to_str(x); };
    if (f == "trim") return Value::str(strip(str(v), a.get(0, "chars"), true, true));
    if (f == "length" || f == "count") {
        if (v.type == Value::string) return Value::int_((int64_t)code_points(v.s).size());
        if (v.type == Value::list) return Value::int_((int64_t)v.l->size());
        if (v.type == Value::dict) return Value::int_((int64_t)v.d->items.size());
        if (v.type == Value::undefined) return Value::int_(0);
        terr("object of type '" + type_name(v) + "' has no len()", line);
    }
    if (f == "upper") return Value::str(ascii_case(str(v), "upper", line, 1));
    if (f == "lower") return Value::str(ascii_case(str(v), "lower", line, 0));
    if (f == "capitalize") {
        std::string s = ascii_case(str(v), "capitalize", line, 0);
        if (!s.empty()) s[0] = (char)std::toupper((unsigned char)s[0]);
        return Value::str(s);
    }
    if (f == "title") return Value::str(title(str(v), line));
    if (f == "default" || f == "d") {
        const Value* dflt = a.get(0, "default_value");
        bool use = v.type == Value::undefined || (flag(a, 1, "boolean") && !truthy(v));
        return use ? (dflt ? *dflt : Value::str("")) : v;
    }
    if (f == "string") return Value::str(str(v));
    if (f == "safe") return v;
    if (f == "int") return Value::int_(to_int(v));
    if (f == "float") return Value::float_(v.type == Value::string ? std::atof(v.s.c_str()) : v.type == Value::floating ? v.f : (double)to_int(v));
    if (f == "abs") {
        if (v.type == Value::floating) return Value::float_(std::fabs(v.f));
        return Value::int_(std::llabs(to_int(v)));
    }
    if (f == "list") return Value::list_(iterate(v, line));
    if (f == "first" || f == "last") {
        auto items = iterate(v, line);
        if (items.empty()) return Value::undef("'" + f + "' of an empty sequence is undefined");
        return f == "first" ? items.front() : items.back();
    }
    if (f == "reverse") {
        auto items = iterate(v, line);
        std::reverse(items.begin(), items.end());
        if (v.type != Value::string) return Value::list_(std::move(items));
        std::string s;
        for (auto& c : items) s += c.s;
        return Value::str(s);
    }
    if (f == "join") {
        const Value* sep = a.get(0, "d");
        const Value* attr = a.get(1, "attribute");
        std::string out;
        bool firstv = true;
        for (const auto& x : iterate(v, line)) {
            out += (firstv ? "" : (sep ? str(*sep) : "")) + str(attr ? get_attr(x, str(*attr), line) : x);
            check_size(out.size(), line);
            firstv = false;
        }
        return Value::str(out);
    }
    if (f == "replace") {
        const Value* cnt = a.get(2, "count");
        return Value::str(replace(str(v), str(need(a, 0, "old", f, line)), str(need(a, 1, "new", f, line)),
                                  cnt && cnt->type != Value::none ? to_int(*cnt) : -1, line));
    }
    if (f == "items") {
        if (v.type == Value::undefined) return Value::list_();
        if (v.type != Value::dict) terr("items filter expects a mapping", line);
        return call_method(v, "items", Args{}, line);
    }
    if (f == "tojson") {
        // transformers' tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
        const Value* sep = a.get(2, "separators");
        if (sep && sep->type != Value::none) terr("tojson with separators is not supported", line);
        const Value* ind = a.get(1, "indent");
        int indent = ind && ind->type != Value::none ? (int)to_int(*ind) : -1;
        return Value::str(to_json(v, indent, flag(a, 0, "ensure_ascii"), flag(a, 3, "sort_keys"), 0, line));
    }
    if (f == "indent") return Value::str(indent(str(v), a.get(0, "width"), flag(a, 1, "first"), flag(a, 2, "blank"), line));
    if (f == "map") {
        const Value* attr = a.get(99, "attribute");
        if (!attr) terr("map is supported with attribute= only", line);
        List out;
        for (const auto& x : iterate(v, line)) {
            Value r = get_attr(x, str(*attr), line);
            const Value* dflt = a.get(99, "default");
            out.push_back(r.type == Value::undefined && dflt ? *dflt : r);
        }
        return Value::list_(std::move(out));
    }
    if (f == "selectattr" || f == "rejectattr" || f == "select" || f == "reject") {
        const bool by_attr = f == "selectattr" || f == "rejectattr", keep = f == "selectattr" || f == "select";
        size_t t0 = by_attr ? 1 : 0;
        std::string attr = by_attr ? str(need(a, 0, "attribute", f, line)) : "";
        std::string test = a.pos.size() > t0 ? str(a.pos[t0]) : "";
        Args targs;
        targs.pos.assign(a.pos.begin() + std::min(a.pos.size(), t0 + 1), a.pos.end());
        List out;
        for (const auto& x : iterate(v, line)) {
            Value subject = by_attr ? get_attr(x, attr, line) : x;
            bool ok = test.empty() ? truthy(subject) : apply_test(test, subject, targs, line);
            if (ok == keep) out.push_back(x);
        }
        return Value::list_(std::move(out));
    }
    terr("filter '" + f + "' is not supported", line);
}

bool apply_test(const std::string& t, const Value& v, const Args& a, int line) {
    auto arg = [&]() -> const Value& { return need(a, 0, "value", "test " + t, line); };
    if (t == "defined") return v.type != Value::undefined;
    if (t == "undefined") return v.type == Value::undefined;
    if (t == "none") return v.type == Value::none;
    if (t == "boolean") return v.type == Value::boolean;
    if (t == "true") return v.type == Value::boolean && v.b;
    if (t == "false") return v.type == Value::boolean && !v.b;
    if (t == "string") return v.type == Value::string;
    if (t == "number") return v.is_number();
    if (t == "integer") return v.type == Value::integer;
    if (t == "float") return v.type == Value::floating;
    if (t == "mapping") return v.type == Value::dict;
    if (t == "iterable" || t == "sequence") return v.type == Value::list || v.type == Value::dict || v.type == Value::string;
    if (t == "callable") return v.type == Value::function;
    if (t == "odd" || t == "even") {
        if (v.type != Value::integer && v.type != Value::boolean) terr("test '" + t + "' expects an integer", line);
        int64_t x = v.type == Value::boolean ? v.b : v.i;
        return (t == "odd") == (x % 2 != 0);
    }
    if (t == "divisibleby") {
        int64_t d = to_int(arg());
        if (d == 0) terr("divisibleby 0", line);
        return to_int(v) % d == 0;
    }
    if (t == "eq" || t == "equalto" || t == "==" || t == "sameas") return equal(v, arg());
    if (t == "ne" || t == "!=") return !equal(v, arg());
    if (t == "in") {
        const Value& c = arg();
        for (const auto& x : iterate(c, line))
            if (equal(x, v)) return true;
        return c.type == Value::string && v.type == Value::string && c.s.find(v.s) != std::string::npos;
    }
    if (t == "lower" || t == "upper") {
        if (v.type != Value::string) return false;
        return ascii_case(v.s, t.c_str(), line, t == "upper") == v.s;
    }
    terr("test '" + t + "' is not supported", line);
}

Value call_method(const Value& obj, const std::string& m, const Args& a, int line) {
    if (obj.type == Value::string) {
        const std::string& s = obj.s;
        if (m == "strip") return Value::str(strip(s, a.get(0, "chars"), true, true));
        if (m == "lstrip") return Value::str(strip(s, a.get(0, "chars"), true, false));
        if (m == "rstrip") return Value::str(strip(s, a.get(0, "chars"), false, true));
        if (m == "upper") return Value::str(ascii_case(s, "upper", line, 1));
        if (m == "lower") return Value::str(ascii_case(s, "lower", line, 0));
        if (m == "title") return Value::str(title(s, line));
        if (m == "capitalize") return apply_filter("capitalize", obj, a, line);
        if (m == "startswith" || m == "endswith") {
            const Value& p = need(a, 0, "prefix", m, line);
            std::vector<Value> options = p.type == Value::list ? *p.l : std::vector<Value>{p};
            for (const auto& o : options) {
                const std::string& x = need_str(o, m, line);
                if (x.size() <= s.size() && s.compare(m == "startswith" ? 0 : s.size() - x.size(), x.size(), x) == 0) return Value::boolean_(true);
            }
            return Value::boolean_(false);
        }
        if (m == "replace") {
            const Value* cnt = a.get(2, "count");
            return Value::str(replace(s, need_str(need(a, 0, "old", m, line), m, line), need_str(need(a, 1, "new", m, line), m, line),
                                      cnt ? to_int(*cnt) : -1, line));
        }
        if (m == "split") {
            const Value* sep = a.get(0, "sep");
            const Value* mx = a.get(1, "maxsplit");
            int64_t left = mx ? to_int(*mx) : -1;
            List out;
            if (!sep || sep->type == Value::none) { // runs of whitespace
                std::string t = strip(s, nullptr, true, false);
                while (!t.empty()) {
                    if (left == 0) { out.push_back(Value::str(t)); break; }
                    size_t e = 0;
                    while (e < t.size() && !std::isspace((unsigned char)t[e])) ++e;
                    out.push_back(Value::str(t.substr(0, e)));
                    t = strip(t.substr(e), nullptr, true, false);
                    --left;
                }
                return Value::list_(std::move(out));
            }
            const std::string& d = need_str(*sep, "split", line);
            if (d.empty()) terr("empty separator", line);
            size_t i = 0;
            for (size_t at; left != 0 && (at = s.find(d, i)) != std::string::npos; i = at + d.size(), --left)
                out.push_back(Value::str(s.substr(i, at - i)));
            out.push_back(Value::str(s.substr(i)));
            return Value::list_(std::move(out));
        }
        if (m == "find") { size_t p = s.find(need_str(need(a, 0, "sub", m, line), m, line)); return Value::int_(p == std::string::npos ? -1 : (int64_t)code_points(s.substr(0, p)).size()); }
        if (m == "count") {
            const std::string& x = need_str(need(a, 0, "sub", m, line), m, line);
            int64_t n = 0;
            if (x.empty()) return Value::int_((int64_t)code_points(s).size() + 1);
            for (size_t p = 0; (p = s.find(x, p)) != std::string::npos; p += x.size()) ++n;
            return Value::int_(n);
        }
        if (m == "join") {
            std::string out;
            auto items = iterate(need(a, 0, "iterable", m, line), line);
            for (size_t i = 0; i < items.size(); ++i) {
                out += (i ? s : "") + need_str(items[i], "join", line);
                check_size(out.size(), line);
            }
            return Value::str(out);
        }
    } else if (obj.type == Value::dict) {
        if (m == "get") {
            const Value* v = obj.d->find(need_str(need(a, 0, "key", m, line), m, line));
            const Value* dflt = a.get(1, "default");
            return v ? *v : dflt ? *dflt : Value::null();
        }
        if (m == "items" || m == "keys" || m == "values") {
            List out;
            for (const auto& [k, v] : obj.d->items)
                out.push_back(m == "items" ? Value::list_({Value::str(k), v}) : m == "keys" ? Value::str(k) : v);
            return Value::list_(std::move(out));
        }
    }
    terr("method '" + m + "' of '" + type_name(obj) + "' is not supported", line);
}

bool is_function(const std::string& f) {
    return f == "raise_exception" || f == "namespace" || f == "dict" || f == "range" || f == "strftime_now";
}

Value call_function(const std::string& f, const Args& a, int line) {
    if (f == "raise_exception") throw RaisedError{a.pos.empty() ? std::string() : to_str(a.pos[0])};
    if (f == "namespace" || f == "dict") {
        Value d = Value::dict_();
        d.is_namespace = f == "namespace";
        if (!a.pos.empty() && a.pos[0].type == Value::dict) *d.d = *a.pos[0].d;
        for (const auto& [k, v] : a.kw) d.d->set(k, v);
        return d;
    }
    if (f == "range") {
        if (a.pos.empty()) terr("range expects at least 1 argument", line);
        int64_t start = 0, stop, step = 1;
        if (a.pos.size() == 1) stop = to_int(a.pos[0]);
        else { start = to_int(a.pos[0]); stop = to_int(a.pos[1]); if (a.pos.size() > 2) step = to_int(a.pos[2]); }
        if (step == 0) terr("range() step must not be zero", line);
        List out;
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back(Value::int_(i));
        return Value::list_(std::move(out));
    }
    if (f == "strftime_now") { // transformers: datetime.now().strftime(fmt)
        std::time_t now = std::time(nullptr);
        std::tm tm{};
        localtime_r(&now, &tm);
        char buf[256];
        size_t n = std::strftime(buf, sizeof buf, need_str(need(a, 0, "format", f, line), f, line).c_str(), &tm);
        return Value::str(std::string(buf, n));
    }
    terr("function '" + f + "' is not supported", line);
}

} // namespace vkc::jinja
