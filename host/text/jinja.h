// A Jinja subset for chat templates (internal to host/text): values, the syntax tree, the parser
// (jinja_parse.cpp) and the renderer (jinja_eval.cpp). Semantics follow Jinja2 as transformers runs
// chat templates: ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True), loop controls.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace vkc::jinja {

struct Value;
using List = std::vector<Value>;
struct Dict;

struct Value {
    enum Type { undefined, none, boolean, integer, floating, string, list, dict, function } type = undefined;
    bool b = false;
    int64_t i = 0;
    double f = 0;
    std::string s;              // string; function: its name; undefined: the error to raise when it is used
    std::shared_ptr<List> l;    // list (tuples too)
    std::shared_ptr<Dict> d;    // dict (insertion ordered)
    bool is_namespace = false;  // dict made by namespace(): `set ns.attr = ...` may change it
    bool is_tuple = false;      // list written as a tuple (shown as (a, b))

    static Value undef(const std::string& what = "") { Value v; v.s = what; return v; }
    static Value null() { Value v; v.type = none; return v; }
    static Value boolean_(bool x) { Value v; v.type = boolean; v.b = x; return v; }
    static Value int_(int64_t x) { Value v; v.type = integer; v.i = x; return v; }
    static Value float_(double x) { Value v; v.type = floating; v.f = x; return v; }
    static Value str(std::string x) { Value v; v.type = string; v.s = std::move(x); return v; }
    static Value list_(List x = {});
    static Value dict_();
    bool is_number() const { return type == integer || type == floating || type == boolean; }
};

struct Dict {
    std::vector<std::pair<std::string, Value>> items;
    const Value* find(const std::string& k) const {
        for (const auto& kv : items)
            if (kv.first == k) return &kv.second;
        return nullptr;
    }
    void set(const std::string& k, Value v) {
        for (auto& kv : items)
            if (kv.first == k) { kv.second = std::move(v); return; }
        items.emplace_back(k, std::move(v));
    }
};

inline Value Value::list_(List x) { Value v; v.type = list; v.l = std::make_shared<List>(std::move(x)); return v; }
inline Value Value::dict_() { Value v; v.type = dict; v.d = std::make_shared<Dict>(); return v; }

// ---- syntax tree ----
struct Expr;
using ExprP = std::unique_ptr<Expr>;
struct Expr {
    enum Kind { literal, var, attr, index, slice, call, filter, test, not_, neg, binary, and_, or_, cond, list, dict } kind;
    int line = 0;
    Value value;           // literal
    std::string name;      // name, attr name, filter / test name, binary operator
    std::vector<ExprP> a;  // operands: attr/index/slice/call/filter/test: a[0] is the object; slice: a[1..3] may be null
    std::vector<std::pair<std::string, ExprP>> kwargs;
    bool negated = false;  // test: `is not`
    bool tuple = false;    // list: written as a tuple
};

struct Node;
using NodeP = std::unique_ptr<Node>;
using Body = std::vector<NodeP>;
struct Node {
    enum Kind { text_, output, if_, for_, set, set_block, break_, continue_, block } kind;
    int line = 0;
    std::string text;                               // text
    ExprP expr;                                     // output value, set value, for iterable
    std::vector<std::pair<ExprP, Body>> branches;   // if / elif / else (null condition)
    std::vector<std::string> targets;               // for loop variables; set: the name (or namespace)
    std::string attr;                               // set ns.attr
    ExprP filter;                                   // for ... if cond
    Body body, else_body;
};

struct Template {
    Body body;
};

// Internal error with the template line; chat_template.cpp turns it into vkc::Error.
struct TemplateError {
    std::string msg;
    int line;
};
// What one render may build (a string, a list, the output): chat prompts are far below it; a hostile
// template repeating a string 10^12 times gets a TemplateError, not an out-of-memory or a hang.
constexpr size_t kMaxBuild = size_t(1) << 24;
void check_size(size_t n, int line); // TemplateError past kMaxBuild
// raise_exception('...') from the template.
struct RaisedError {
    std::string msg;
};

Template parse(const std::string& source); // throws TemplateError
std::string render(const Template& t, const std::map<std::string, Value>& globals); // TemplateError, RaisedError

// ---- built-ins (jinja_builtins.cpp) ----
struct Args {
    std::vector<Value> pos;
    std::vector<std::pair<std::string, Value>> kw;
    // The argument at position i or named `name`; nullptr when absent.
    const Value* get(size_t i, const char* name) const;
};
bool truthy(const Value& v);
std::string type_name(const Value& v);
std::string to_str(const Value& v); // Python str()
std::string repr(const Value& v);   // Python repr()
bool equal(const Value& a, const Value& b);
std::vector<Value> iterate(const Value& v, int line); // for-loop items: list items, dict keys, characters
Value get_attr(const Value& obj, const std::string& name, int line);
Value get_item(const Value& obj, const Value& key, int line);
Value apply_filter(const std::string& name, const Value& v, const Args& args, int line);
bool apply_test(const std::string& name, const Value& v, const Args& args, int line);
Value call_method(const Value& obj, const std::string& name, const Args& args, int line);
bool is_function(const std::string& name); // a global function name
Value call_function(const std::string& name, const Args& args, int line);

} // namespace vkc::jinja
