// Jinja subset: rendering (statements, scoping, operators). Filters, tests, methods: jinja_builtins.cpp.
#include <algorithm>
#include <cmath>

#include "host/text/jinja.h"

namespace vkc::jinja {

void check_size(size_t n, int line) {
    if (n > kMaxBuild) throw TemplateError{"template result too large (over 16 Mi characters or items)", line};
}

namespace {

[[noreturn]] void terr(const std::string& m, int line) { throw TemplateError{m, line}; }

bool is_int_like(const Value& v) { return v.type == Value::integer || v.type == Value::boolean; }
int64_t as_int(const Value& v) { return v.type == Value::boolean ? (int64_t)v.b : v.i; }
double as_float(const Value& v) { return v.type == Value::floating ? v.f : (double)as_int(v); }

[[noreturn]] void bad_operands(const std::string& op, const Value& a, const Value& b, int line) {
    if (a.type == Value::undefined) terr(a.s, line);
    if (b.type == Value::undefined) terr(b.s, line);
    terr("unsupported operand types for " + op + ": '" + type_name(a) + "' and '" + type_name(b) + "'", line);
}

Value arith(const std::string& op, const Value& a, const Value& b, int line) {
    if (op == "+") {
        if (a.type == Value::string && b.type == Value::string) {
            check_size(a.s.size() + b.s.size(), line);
            return Value::str(a.s + b.s);
        }
        if (a.type == Value::list && b.type == Value::list) {
            check_size(a.l->size() + b.l->size(), line);
            List l = *a.l;
            l.insert(l.end(), b.l->begin(), b.l->end());
            return Value::list_(std::move(l));
        }
    }
    if (op == "*") {
        const Value* seq = a.type == Value::string || a.type == Value::list ? &a : b.type == Value::string || b.type == Value::list ? &b : nullptr;
        const Value* n = seq == &a ? &b : &a;
        if (seq && is_int_like(*n)) {
            const size_t len = seq->type == Value::string ? seq->s.size() : seq->l->size();
            const int64_t k = len == 0 ? 0 : as_int(*n); // empty: no 10^18 empty rounds
            if (k > 0) check_size((uint64_t)k > kMaxBuild ? kMaxBuild + 1 : (size_t)k * len, line);
            if (seq->type == Value::string) {
                std::string s;
                for (int64_t i = 0; i < k; ++i) s += seq->s;
                return Value::str(s);
            }
            List l;
            for (int64_t i = 0; i < k; ++i) l.insert(l.end(), seq->l->begin(), seq->l->end());
            return Value::list_(std::move(l));
        }
    }
    if (op == "%" && a.type == Value::string) terr("printf-style string formatting is not supported", line);
    if (!a.is_number() || !b.is_number()) bad_operands(op, a, b, line);
    const bool ints = is_int_like(a) && is_int_like(b);
    if (ints && op != "/") {
        int64_t x = as_int(a), y = as_int(b), r = 0;
        // 64-bit integers (Python's are unbounded): a result that does not fit is an error, not UB
        auto overflow = [&] { terr("integer overflow in '" + op + "' (integers are 64-bit here)", line); };
        if (op == "+" || op == "-" || op == "*") {
            const bool ov = op == "+"   ? __builtin_add_overflow(x, y, &r)
                            : op == "-" ? __builtin_sub_overflow(x, y, &r)
                                        : __builtin_mul_overflow(x, y, &r);
            if (ov) overflow();
            return Value::int_(r);
        }
        if (op == "**") {
            if (y < 0) return Value::float_(std::pow((double)x, (double)y));
            int64_t base = x; // square-and-multiply: at most 63 rounds, whatever y is
            r = 1;
            for (uint64_t e = (uint64_t)y; e; e >>= 1) {
                if ((e & 1u) && __builtin_mul_overflow(r, base, &r)) overflow();
                if ((e >> 1) && __builtin_mul_overflow(base, base, &base)) overflow();
            }
            return Value::int_(r);
        }
        if (y == 0) terr("division by zero", line);
        if (y == -1 && x == INT64_MIN) overflow();
        int64_t q = x / y, m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) { --q; m += y; } // Python floor semantics
        return Value::int_(op == "//" ? q : m);
    }
    double x = as_float(a), y = as_float(b);
    if (op == "+") return Value::float_(x + y);
    if (op == "-") return Value::float_(x - y);
    if (op == "*") return Value::float_(x * y);
    if (op == "**") return Value::float_(std::pow(x, y));
    if (y == 0) terr("division by zero", line);
    if (op == "/") return Value::float_(x / y);
    if (op == "//") return Value::float_(std::floor(x / y));
    return Value::float_(x - std::floor(x / y) * y);
}

int order(const Value& a, const Value& b, const std::string& op, int line) {
    if (a.is_number() && b.is_number()) {
        double x = as_float(a), y = as_float(b);
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a.type == Value::string && b.type == Value::string) return a.s < b.s ? -1 : a.s > b.s ? 1 : 0;
    if (a.type == Value::list && b.type == Value::list) {
        for (size_t i = 0; i < a.l->size() && i < b.l->size(); ++i)
            if (!equal((*a.l)[i], (*b.l)[i])) return order((*a.l)[i], (*b.l)[i], op, line);
        return a.l->size() < b.l->size() ? -1 : a.l->size() > b.l->size() ? 1 : 0;
    }
    bad_operands(op, a, b, line);
}

bool contains(const Value& container, const Value& item, int line) {
    switch (container.type) {
    case Value::undefined: return false;
    case Value::string:
        if (item.type != Value::string) terr("'in <string>' requires a string on the left, not '" + type_name(item) + "'", line);
        return container.s.find(item.s) != std::string::npos;
    case Value::list:
        for (const auto& x : *container.l)
            if (equal(x, item)) return true;
        return false;
    case Value::dict: return item.type == Value::string && container.d->find(item.s) != nullptr;
    default: terr("argument of type '" + type_name(container) + "' is not iterable", line);
    }
}

class Renderer {
public:
    explicit Renderer(const std::map<std::string, Value>& globals) { scopes_.emplace_back(globals.begin(), globals.end()); }
    std::string out;

    enum Flow { normal, brk, cont };

    Flow exec(const Body& body) {
        for (const auto& n : body) {
            Flow f = exec(*n);
            if (f != normal) return f;
        }
        return normal;
    }

private:
    Flow exec(const Node& n) {
        switch (n.kind) {
        case Node::text_: out += n.text; check_size(out.size(), n.line); break;
        case Node::output: out += to_str(eval(*n.expr)); check_size(out.size(), n.line); break;
        case Node::if_:
            for (const auto& [cond, body] : n.branches)
                if (!cond || truthy(eval(*cond))) return exec(body);
            break;
        case Node::for_: return exec_for(n);
        case Node::set: {
            Value v = eval(*n.expr);
            if (n.attr.empty()) { scopes_.back()[n.targets[0]] = v; break; }
            Value ns = lookup(n.targets[0]);
            if (ns.type != Value::dict || !ns.is_namespace) terr("cannot assign attribute on non-namespace object '" + n.targets[0] + "'", n.line);
            ns.d->set(n.attr, v);
            break;
        }
        case Node::set_block: {
            std::string saved;
            saved.swap(out);
            Flow f = exec(n.body);
            scopes_.back()[n.targets[0]] = Value::str(out);
            out.swap(saved);
            return f;
        }
        case Node::block: return exec(n.body);
        case Node::break_: return brk;
        case Node::continue_: return cont;
        }
        return normal;
    }

    Flow exec_for(const Node& n) {
        Value seq = eval(*n.expr);
        if (seq.type == Value::none) terr("'NoneType' object is not iterable", n.line);
        std::vector<Value> items = iterate(seq, n.line);
        if (n.filter) {
            std::vector<Value> kept;
            for (auto& it : items) {
                scopes_.emplace_back();
                bind(n, it);
                bool keep = truthy(eval(*n.filter));
                scopes_.pop_back();
                if (keep) kept.push_back(std::move(it));
            }
            items.swap(kept);
        }
        if (items.empty()) return exec(n.else_body);
        const int64_t len = (int64_t)items.size();
        for (int64_t i = 0; i < len; ++i) {
            scopes_.emplace_back();
            bind(n, items[i]);
            Value loop = Value::dict_();
            Dict& d = *loop.d;
            d.set("index", Value::int_(i + 1));
            d.set("index0", Value::int_(i));
            d.set("revindex", Value::int_(len - i));
            d.set("revindex0", Value::int_(len - i - 1));
            d.set("first", Value::boolean_(i == 0));
            d.set("last", Value::boolean_(i == len - 1));
            d.set("length", Value::int_(len));
            d.set("depth", Value::int_(1));
            d.set("depth0", Value::int_(0));
            if (i > 0) d.set("previtem", items[i - 1]);
            if (i + 1 < len) d.set("nextitem", items[i + 1]);
            scopes_.back()["loop"] = loop;
            Flow f = exec(n.body);
            scopes_.pop_back();
            if (f == brk) break;
        }
        return normal;
    }

    void bind(const Node& n, const Value& item) {
        if (n.targets.size() == 1) { scopes_.back()[n.targets[0]] = item; return; }
        std::vector<Value> parts = iterate(item, n.line);
        if (parts.size() != n.targets.size())
            terr("cannot unpack " + std::to_string(parts.size()) + " values into " + std::to_string(n.targets.size()) + " loop variables", n.line);
        for (size_t k = 0; k < parts.size(); ++k) scopes_.back()[n.targets[k]] = parts[k];
    }

    Value lookup(const std::string& name) const {
        for (size_t i = scopes_.size(); i-- > 0;) {
            auto it = scopes_[i].find(name);
            if (it != scopes_[i].end()) return it->second;
        }
        if (is_function(name)) { Value f; f.type = Value::function; f.s = name; return f; }
        return Value::undef("'" + name + "' is undefined");
    }

    Args eval_args(const Expr& e, size_t first) {
        Args a;
        for (size_t i = first; i < e.a.size(); ++i) a.pos.push_back(eval(*e.a[i]));
        for (const auto& [k, v] : e.kwargs) a.kw.emplace_back(k, eval(*v));
        return a;
    }

    Value eval(const Expr& e) {
        switch (e.kind) {
        case Expr::literal: return e.value;
        case Expr::var: return lookup(e.name);
        case Expr::attr: return get_attr(eval(*e.a[0]), e.name, e.line);
        case Expr::index: return get_item(eval(*e.a[0]), eval(*e.a[1]), e.line);
        case Expr::slice: return slice(e);
        case Expr::call: {
            const Expr& callee = *e.a[0];
            if (callee.kind == Expr::attr) {
                Value obj = eval(*callee.a[0]);
                if (obj.type == Value::undefined) terr(obj.s, e.line);
                return call_method(obj, callee.name, eval_args(e, 1), e.line);
            }
            Value f = eval(callee);
            if (f.type == Value::function) return call_function(f.s, eval_args(e, 1), e.line);
            if (f.type == Value::undefined) terr(f.s, e.line);
            terr("'" + type_name(f) + "' object is not callable", e.line);
        }
        case Expr::filter: return apply_filter(e.name, eval(*e.a[0]), eval_args(e, 1), e.line);
        case Expr::test: {
            bool r = apply_test(e.name, eval(*e.a[0]), eval_args(e, 1), e.line);
            return Value::boolean_(e.negated ? !r : r);
        }
        case Expr::not_: return Value::boolean_(!truthy(eval(*e.a[0])));
        case Expr::neg: {
            Value v = eval(*e.a[0]);
            if (is_int_like(v)) return Value::int_(-as_int(v));
            if (v.type == Value::floating) return Value::float_(-v.f);
            terr("bad operand type for unary -: '" + type_name(v) + "'", e.line);
        }
        case Expr::and_: {
            Value l = eval(*e.a[0]);
            return truthy(l) ? eval(*e.a[1]) : l;
        }
        case Expr::or_: {
            Value l = eval(*e.a[0]);
            return truthy(l) ? l : eval(*e.a[1]);
        }
        case Expr::cond:
            if (truthy(eval(*e.a[1]))) return eval(*e.a[0]);
            return e.a[2] ? eval(*e.a[2]) : Value::undef("the conditional expression has no else branch");
        case Expr::list: {
            List l;
            for (const auto& x : e.a) l.push_back(eval(*x));
            Value v = Value::list_(std::move(l));
            v.is_tuple = e.tuple;
            return v;
        }
        case Expr::dict: {
            Value d = Value::dict_();
            for (size_t i = 0; i + 1 < e.a.size(); i += 2) {
                Value k = eval(*e.a[i]);
                if (k.type != Value::string) terr("only string keys are supported in dict literals", e.line);
                d.d->set(k.s, eval(*e.a[i + 1]));
            }
            return d;
        }
        case Expr::binary: return binary(e);
        }
        terr("unknown expression", e.line);
    }

    Value binary(const Expr& e) {
        Value a = eval(*e.a[0]), b = eval(*e.a[1]);
        const std::string& op = e.name;
        if (op == "~") {
            std::string r = to_str(a);
            const std::string rb = to_str(b);
            check_size(r.size() + rb.size(), e.line);
            return Value::str(r + rb);
        }
        if (op == "==") return Value::boolean_(equal(a, b));
        if (op == "!=") return Value::boolean_(!equal(a, b));
        if (op == "in") return Value::boolean_(contains(b, a, e.line));
        if (op == "not in") return Value::boolean_(!contains(b, a, e.line));
        if (op == "<") return Value::boolean_(order(a, b, op, e.line) < 0);
        if (op == "<=") return Value::boolean_(order(a, b, op, e.line) <= 0);
        if (op == ">") return Value::boolean_(order(a, b, op, e.line) > 0);
        if (op == ">=") return Value::boolean_(order(a, b, op, e.line) >= 0);
        return arith(op, a, b, e.line);
    }

    Value slice(const Expr& e) {
        Value obj = eval(*e.a[0]);
        if (obj.type == Value::undefined) terr(obj.s, e.line);
        std::vector<Value> items;
        if (obj.type == Value::list) items = *obj.l;
        else if (obj.type == Value::string) items = iterate(obj, e.line);
        else terr("cannot slice a value of type '" + type_name(obj) + "'", e.line);
        auto bound = [&](size_t k) -> const Value* {
            if (!e.a[k]) return nullptr;
            Value v = eval(*e.a[k]);
            if (v.type == Value::none) return nullptr;
            if (!is_int_like(v)) terr("slice indices must be integers", e.line);
            bounds_.push_back(v);
            return &bounds_.back();
        };
        bounds_.clear();
        bounds_.reserve(3);
        const Value *vs = bound(1), *ve = bound(2), *vst = bound(3);
        const int64_t n = (int64_t)items.size();
        int64_t step = vst ? as_int(*vst) : 1;
        if (step == 0) terr("slice step cannot be zero", e.line);
        auto clamp = [&](const Value* v, int64_t dflt) {
            if (!v) return dflt;
            int64_t x = as_int(*v);
            if (x < 0) x += n;
            if (step > 0) return std::max<int64_t>(0, std::min(x, n));
            return std::max<int64_t>(-1, std::min(x, n - 1));
        };
        int64_t start = clamp(vs, step > 0 ? 0 : n - 1), stop = clamp(ve, step > 0 ? n : -1);
        List r;
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) r.push_back(items[i]);
        if (obj.type == Value::string) {
            std::string s;
            for (const auto& c : r) s += c.s;
            return Value::str(s);
        }
        return Value::list_(std::move(r));
    }

    std::vector<std::map<std::string, Value>> scopes_;
    std::vector<Value> bounds_;
};

} // namespace

std::string render(const Template& t, const std::map<std::string, Value>& globals) {
    Renderer r(globals);
    r.exec(t.body);
    return std::move(r.out);
}

} // namespace vkc::jinja
