// Jinja subset: lexer (with trim_blocks / lstrip_blocks / {%- -%} whitespace control, as transformers
// configures Jinja) and recursive-descent parser with Jinja's operator precedence.
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "host/text/jinja.h"

namespace vkc::jinja {
namespace {

struct Chunk {
    enum Kind { text, expr, stmt } kind;
    std::string s;
    int line;
};

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

int line_at(const std::string& s, size_t pos) {
    int n = 1;
    for (size_t i = 0; i < pos && i < s.size(); ++i) n += s[i] == '\n';
    return n;
}

// Splits the source into text and tags, applying Jinja's whitespace rules.
std::vector<Chunk> split_chunks(std::string src) {
    std::string norm;
    for (size_t i = 0; i < src.size(); ++i) {
        if (src[i] == '\r') { norm += '\n'; if (i + 1 < src.size() && src[i + 1] == '\n') ++i; }
        else norm += src[i];
    }
    src.swap(norm);
    if (!src.empty() && src.back() == '\n') src.pop_back(); // keep_trailing_newline=False
    std::vector<Chunk> out;
    size_t pos = 0, n = src.size();
    bool line_starting = true;
    while (pos < n) {
        size_t p = pos;
        while (p + 1 < n && !(src[p] == '{' && (src[p + 1] == '{' || src[p + 1] == '%' || src[p + 1] == '#'))) ++p;
        if (p + 1 >= n) { out.push_back({Chunk::text, src.substr(pos), line_at(src, pos)}); break; }
        const char kind = src[p + 1];
        const char lctl = p + 2 < n ? src[p + 2] : 0;
        std::string text = src.substr(pos, p - pos);
        if (lctl == '-') {
            while (!text.empty() && is_ws(text.back())) text.pop_back();
        } else if (kind != '{' && lctl != '+') { // lstrip_blocks
            size_t l = text.rfind('\n');
            size_t lpos = l == std::string::npos ? 0 : l + 1;
            bool blank = true;
            for (size_t i = lpos; i < text.size(); ++i) blank &= is_ws(text[i]);
            if ((lpos > 0 || line_starting) && blank) text.resize(lpos);
        }
        if (!text.empty()) out.push_back({Chunk::text, text, line_at(src, pos)});
        const int line = line_at(src, p);
        size_t inner = p + 2 + ((lctl == '-' || lctl == '+') ? 1 : 0);
        const char close = kind == '{' ? '}' : kind;
        size_t c = inner;
        char quote = 0;
        for (; c + 1 < n; ++c) {
            if (kind != '#') {
                if (quote) {
                    if (src[c] == '\\') ++c;
                    else if (src[c] == quote) quote = 0;
                    continue;
                }
                if (src[c] == '\'' || src[c] == '"') { quote = src[c]; continue; }
            }
            if (src[c] == close && src[c + 1] == '}') break;
        }
        if (c + 1 >= n) throw TemplateError{std::string("unclosed '{") + kind + "' tag", line};
        size_t inner_end = c;
        char rctl = c > inner ? src[c - 1] : 0;
        if (rctl == '-' || rctl == '+') --inner_end;
        else rctl = 0;
        size_t after = c + 2;
        if (rctl == '-') {
            while (after < n && is_ws(src[after])) ++after;
        } else if (kind != '{' && rctl != '+' && after < n && src[after] == '\n') { // trim_blocks
            ++after;
        }
        line_starting = after > 0 && src[after - 1] == '\n';
        if (kind != '#') out.push_back({kind == '{' ? Chunk::expr : Chunk::stmt, src.substr(inner, inner_end - inner), line});
        pos = after;
    }
    return out;
}

struct Tok {
    enum Kind { name, str, integer, floating, op, end } kind;
    std::string s;
    int64_t i = 0;
    double f = 0;
    int line = 0;
};

std::vector<Tok> tokenize(const std::string& s, int line) {
    std::vector<Tok> out;
    size_t i = 0;
    static const char* ops2[] = {"**", "//", "==", "!=", "<=", ">="};
    while (true) {
        while (i < s.size() && is_ws(s[i])) { line += s[i] == '\n'; ++i; }
        if (i >= s.size()) break;
        char c = s[i];
        Tok t{Tok::op};
        t.line = line;
        if (std::isalpha((unsigned char)c) || c == '_') {
            size_t b = i;
            while (i < s.size() && (std::isalnum((unsigned char)s[i]) || s[i] == '_')) ++i;
            t.kind = Tok::name;
            t.s = s.substr(b, i - b);
        } else if (std::isdigit((unsigned char)c)) {
            size_t b = i;
            while (i < s.size() && (std::isdigit((unsigned char)s[i]) || s[i] == '_')) ++i;
            bool fl = false;
            if (i + 1 < s.size() && s[i] == '.' && std::isdigit((unsigned char)s[i + 1])) {
                fl = true;
                ++i;
                while (i < s.size() && std::isdigit((unsigned char)s[i])) ++i;
            }
            if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) { // exponent
                size_t j = i + 1;
                if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
                if (j < s.size() && std::isdigit((unsigned char)s[j])) {
                    fl = true;
                    i = j;
                    while (i < s.size() && std::isdigit((unsigned char)s[i])) ++i;
                }
            }
            std::string num;
            for (size_t k = b; k < i; ++k) if (s[k] != '_') num += s[k];
            // strtod/strtoll: overflow gives inf (as Python's float literals) or an error, never an exception.
            if (fl) { t.kind = Tok::floating; t.f = std::strtod(num.c_str(), nullptr); }
            else {
                t.kind = Tok::integer;
                errno = 0;
                t.i = std::strtoll(num.c_str(), nullptr, 10);
                if (errno == ERANGE) throw TemplateError{"integer literal " + num + " is too large", line};
            }
        } else if (c == '\'' || c == '"') {
            t.kind = Tok::str;
            ++i;
            while (i < s.size() && s[i] != c) {
                char ch = s[i++];
                if (ch == '\n') ++line;
                if (ch != '\\' || i >= s.size()) { t.s += ch; continue; }
                char e = s[i++];
                switch (e) {
                case 'n': t.s += '\n'; break;
                case 't': t.s += '\t'; break;
                case 'r': t.s += '\r'; break;
                case '\\': t.s += '\\'; break;
                case '\'': t.s += '\''; break;
                case '"': t.s += '"'; break;
                case '\n': break;
                case 'x': case 'u': case 'U': {
                    size_t len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    // Exactly len hex digits naming a Unicode scalar value (no surrogates), as Python requires.
                    if (i + len > s.size()) throw TemplateError{"bad escape in string literal", line};
                    unsigned long cp = 0;
                    for (size_t k = 0; k < len; ++k) {
                        const char h = s[i + k];
                        const int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                    : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                        if (d < 0) throw TemplateError{"bad escape in string literal", line};
                        cp = cp * 16 + (unsigned long)d;
                    }
                    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                        throw TemplateError{"escape names no Unicode character in string literal", line};
                    i += len;
                    std::string u;
                    if (cp < 0x80) u += (char)cp;
                    else if (cp < 0x800) { u += (char)(0xC0 | (cp >> 6)); u += (char)(0x80 | (cp & 0x3F)); }
                    else if (cp < 0x10000) { u += (char)(0xE0 | (cp >> 12)); u += (char)(0x80 | ((cp >> 6) & 0x3F)); u += (char)(0x80 | (cp & 0x3F)); }
                    else { u += (char)(0xF0 | (cp >> 18)); u += (char)(0x80 | ((cp >> 12) & 0x3F)); u += (char)(0x80 | ((cp >> 6) & 0x3F)); u += (char)(0x80 | (cp & 0x3F)); }
                    t.s += u;
                    break;
                }
                default: t.s += '\\'; t.s += e; // Python keeps unknown escapes
                }
            }
            if (i >= s.size()) throw TemplateError{"unterminated string literal", line};
            ++i;
        } else {
            t.s = std::string(1, c);
            for (const char* o : ops2)
                if (s.compare(i, 2, o) == 0) t.s = o;
            if (!std::strchr("+-*/%~|.,:()[]{}<>=!", c) || t.s == "!")
                throw TemplateError{std::string("unexpected character '") + c + "'", line};
            i += t.s.size();
        }
        out.push_back(std::move(t));
    }
    Tok e{Tok::end};
    e.line = line;
    out.push_back(e);
    return out;
}

class Parser {
public:
    explicit Parser(std::vector<Chunk> chunks) : chunks_(std::move(chunks)) {}

    Body parse_all() {
        std::string stop;
        Body b = parse_body({}, &stop);
        return b;
    }

private:
    // Nesting bound (blocks inside blocks, brackets / unary operators inside expressions): the parser and
    // the evaluator recurse per level, so an unbounded template would overflow the stack (fuzz finding:
    // thousands of '['). Real chat templates nest a handful of levels.
    static constexpr int kMaxDepth = 100;
    struct Nest {
        Parser& p;
        explicit Nest(Parser& parser) : p(parser) {
            if (++p.depth_ > kMaxDepth) {
                --p.depth_;
                p.err("template nested deeper than " + std::to_string(kMaxDepth) + " levels");
            }
        }
        ~Nest() { --p.depth_; }
        Nest(const Nest&) = delete;
        Nest& operator=(const Nest&) = delete;
    };

    // ---- statements ----
    Body parse_body(const std::vector<std::string>& stops, std::string* stop) {
        Nest nest(*this);
        Body body;
        while (ci_ < chunks_.size()) {
            const Chunk& c = chunks_[ci_++];
            if (c.kind == Chunk::text) {
                auto n = node(Node::text_, c.line);
                n->text = c.s;
                body.push_back(std::move(n));
                continue;
            }
            toks_ = tokenize(c.s, c.line);
            ti_ = 0;
            if (c.kind == Chunk::expr) {
                auto n = node(Node::output, c.line);
                n->expr = parse_expression();
                expect_end();
                body.push_back(std::move(n));
                continue;
            }
            if (cur().kind != Tok::name) err("expected a statement keyword");
            std::string kw = next().s;
            for (const auto& s : stops)
                if (kw == s) { *stop = kw; return body; }
            body.push_back(parse_statement(kw, c.line));
        }
        if (!stops.empty()) throw TemplateError{"missing {% " + stops.back() + " %}", chunks_.empty() ? 1 : chunks_.back().line};
        return body;
    }

    NodeP parse_statement(const std::string& kw, int line) {
        if (kw == "if") {
            auto n = node(Node::if_, line);
            ExprP cond = parse_expression();
            expect_end();
            std::string stop;
            while (true) {
                Body b = parse_body({"elif", "else", "endif"}, &stop);
                n->branches.emplace_back(std::move(cond), std::move(b));
                if (stop == "elif") { cond = parse_expression(); expect_end(); continue; }
                expect_end();
                if (stop == "else") {
                    Body eb = parse_body({"endif"}, &stop);
                    expect_end();
                    n->branches.emplace_back(nullptr, std::move(eb));
                }
                break;
            }
            return n;
        }
        if (kw == "for") {
            auto n = node(Node::for_, line);
            do n->targets.push_back(expect_name()); while (skip_op(","));
            if (expect_name() != "in") err("expected 'in' in for loop");
            n->expr = parse_expression(false);
            if (skip_name("if")) n->filter = parse_expression(false);
            if (skip_name("recursive")) err("recursive loops are not supported");
            expect_end();
            std::string stop;
            ++loop_depth_;
            n->body = parse_body({"else", "endfor"}, &stop);
            if (stop == "else") { expect_end(); n->else_body = parse_body({"endfor"}, &stop); }
            --loop_depth_;
            expect_end();
            return n;
        }
        if (kw == "set") {
            std::string target = expect_name();
            std::string attr;
            if (skip_op(".")) attr = expect_name();
            if (cur().kind == Tok::op && cur().s == ",") err("tuple assignment in set is not supported");
            if (cur().kind == Tok::end) { // {% set x %}...{% endset %}
                if (!attr.empty()) err("block set of an attribute is not supported");
                auto n = node(Node::set_block, line);
                n->targets.push_back(target);
                std::string stop;
                n->body = parse_body({"endset"}, &stop);
                expect_end();
                return n;
            }
            if (!skip_op("=")) err("expected '=' in set");
            auto n = node(Node::set, line);
            n->targets.push_back(target);
            n->attr = attr;
            n->expr = parse_tuple();
            expect_end();
            return n;
        }
        if (kw == "break" || kw == "continue") {
            if (loop_depth_ == 0) err("'" + kw + "' outside a loop");
            expect_end();
            return node(kw == "break" ? Node::break_ : Node::continue_, line);
        }
        if (kw == "generation") { // transformers' AssistantTracker: renders its body
            expect_end();
            auto n = node(Node::block, line);
            std::string stop;
            n->body = parse_body({"endgeneration"}, &stop);
            expect_end();
            return n;
        }
        static const char* known_unsupported[] = {"macro", "call", "filter", "include", "import", "from", "extends",
                                                  "block", "with", "raw", "do", "autoescape", "trans"};
        for (const char* k : known_unsupported)
            if (kw == k) err("the '" + kw + "' tag is not supported");
        err("unexpected tag '" + kw + "'");
    }

    // ---- expressions ----
    ExprP parse_tuple() {
        ExprP e = parse_expression();
        if (!(cur().kind == Tok::op && cur().s == ",")) return e;
        auto t = expr(Expr::list);
        t->a.push_back(std::move(e));
        while (skip_op(",")) {
            if (cur().kind == Tok::end) break;
            t->a.push_back(parse_expression());
        }
        return t;
    }

    ExprP parse_expression(bool with_cond = true) {
        ExprP e = parse_or();
        while (with_cond && skip_name("if")) {
            auto c = expr(Expr::cond);
            ExprP test = parse_or();
            ExprP other = skip_name("else") ? parse_expression() : nullptr;
            c->a.push_back(std::move(e));
            c->a.push_back(std::move(test));
            c->a.push_back(std::move(other));
            e = std::move(c);
        }
        return e;
    }
    ExprP parse_or() {
        ExprP e = parse_and();
        while (skip_name("or")) e = binary(Expr::or_, "or", std::move(e), parse_and());
        return e;
    }
    ExprP parse_and() {
        ExprP e = parse_not();
        while (skip_name("and")) e = binary(Expr::and_, "and", std::move(e), parse_not());
        return e;
    }
    ExprP parse_not() {
        if (is_name("not")) {
            next();
            auto n = expr(Expr::not_);
            n->a.push_back(parse_not());
            return n;
        }
        return parse_compare();
    }
    ExprP parse_compare() {
        ExprP e = parse_math1();
        int count = 0;
        while (true) {
            std::string op;
            const Tok& t = cur();
            if (t.kind == Tok::op && (t.s == "==" || t.s == "!=" || t.s == "<" || t.s == "<=" || t.s == ">" || t.s == ">=")) {
                op = t.s;
                next();
            } else if (is_name("in")) {
                next();
                op = "in";
            } else if (is_name("not") && ti_ + 1 < toks_.size() && toks_[ti_ + 1].kind == Tok::name && toks_[ti_ + 1].s == "in") {
                ti_ += 2;
                op = "not in";
            } else {
                break;
            }
            if (++count > 1) err("chained comparisons are not supported");
            e = binary(Expr::binary, op, std::move(e), parse_math1());
        }
        return e;
    }
    ExprP parse_math1() {
        ExprP e = parse_concat();
        while (cur().kind == Tok::op && (cur().s == "+" || cur().s == "-")) {
            std::string op = next().s;
            e = binary(Expr::binary, op, std::move(e), parse_concat());
        }
        return e;
    }
    ExprP parse_concat() {
        ExprP e = parse_math2();
        while (skip_op("~")) e = binary(Expr::binary, "~", std::move(e), parse_math2());
        return e;
    }
    ExprP parse_math2() {
        ExprP e = parse_pow();
        while (cur().kind == Tok::op && (cur().s == "*" || cur().s == "/" || cur().s == "//" || cur().s == "%")) {
            std::string op = next().s;
            e = binary(Expr::binary, op, std::move(e), parse_pow());
        }
        return e;
    }
    ExprP parse_pow() {
        ExprP e = parse_unary(true);
        while (skip_op("**")) e = binary(Expr::binary, "**", std::move(e), parse_unary(true));
        return e;
    }
    ExprP parse_unary(bool with_filter) {
        Nest nest(*this); // every nested expression (brackets, calls, unary chains) passes here
        ExprP e;
        if (skip_op("-")) {
            e = expr(Expr::neg);
            e->a.push_back(parse_unary(false));
        } else if (skip_op("+")) {
            e = parse_unary(false);
        } else {
            e = parse_primary();
        }
        e = parse_postfix(std::move(e));
        return with_filter ? parse_filters(std::move(e)) : std::move(e);
    }
    ExprP parse_primary() {
        const Tok& t = cur();
        auto e = expr(Expr::literal);
        if (t.kind == Tok::name) {
            std::string s = next().s;
            if (s == "true" || s == "True") e->value = Value::boolean_(true);
            else if (s == "false" || s == "False") e->value = Value::boolean_(false);
            else if (s == "none" || s == "None") e->value = Value::null();
            else { e->kind = Expr::var; e->name = s; }
        } else if (t.kind == Tok::str) {
            std::string s;
            while (cur().kind == Tok::str) s += next().s; // adjacent literals concatenate
            e->value = Value::str(s);
        } else if (t.kind == Tok::integer) {
            e->value = Value::int_(next().i);
        } else if (t.kind == Tok::floating) {
            e->value = Value::float_(next().f);
        } else if (skip_op("(")) {
            if (skip_op(")")) { e->kind = Expr::list; e->tuple = true; return e; }
            ExprP inner = parse_expression();
            if (skip_op(")")) return inner;
            e->kind = Expr::list; // tuple
            e->tuple = true;
            e->a.push_back(std::move(inner));
            while (skip_op(",")) {
                if (is_op(")")) break;
                e->a.push_back(parse_expression());
            }
            expect_op(")");
        } else if (skip_op("[")) {
            e->kind = Expr::list;
            while (!is_op("]")) {
                e->a.push_back(parse_expression());
                if (!skip_op(",")) break;
            }
            expect_op("]");
        } else if (skip_op("{")) {
            e->kind = Expr::dict;
            while (!is_op("}")) {
                e->a.push_back(parse_expression());
                expect_op(":");
                e->a.push_back(parse_expression());
                if (!skip_op(",")) break;
            }
            expect_op("}");
        } else {
            err(t.kind == Tok::end ? "unexpected end of expression" : "unexpected '" + t.s + "'");
        }
        return e;
    }
    ExprP parse_postfix(ExprP e) {
        while (true) {
            if (skip_op(".")) {
                if (cur().kind == Tok::integer) {
                    auto ix = expr(Expr::index);
                    auto lit = expr(Expr::literal);
                    lit->value = Value::int_(next().i);
                    ix->a.push_back(std::move(e));
                    ix->a.push_back(std::move(lit));
                    e = std::move(ix);
                    continue;
                }
                auto at = expr(Expr::attr);
                at->name = expect_name();
                at->a.push_back(std::move(e));
                e = std::move(at);
            } else if (skip_op("[")) {
                ExprP parts[3];
                int colons = 0;
                for (;;) {
                    if (!is_op(":") && !is_op("]")) parts[colons] = parse_expression();
                    if (colons < 2 && skip_op(":")) { ++colons; continue; }
                    break;
                }
                expect_op("]");
                auto ix = expr(colons ? Expr::slice : Expr::index);
                ix->a.push_back(std::move(e));
                ix->a.push_back(std::move(parts[0]));
                if (colons) { ix->a.push_back(std::move(parts[1])); ix->a.push_back(std::move(parts[2])); }
                else if (!ix->a[1]) err("empty subscript");
                e = std::move(ix);
            } else if (is_op("(")) {
                e = parse_call(Expr::call, "", std::move(e));
            } else {
                return e;
            }
        }
    }
    ExprP parse_call(Expr::Kind kind, const std::string& name, ExprP obj) {
        auto c = expr(kind);
        c->name = name;
        c->a.push_back(std::move(obj));
        if (!skip_op("(")) return c;
        while (!is_op(")")) {
            if (cur().kind == Tok::name && ti_ + 1 < toks_.size() && toks_[ti_ + 1].kind == Tok::op && toks_[ti_ + 1].s == "=") {
                std::string k = next().s;
                next();
                c->kwargs.emplace_back(k, parse_expression());
            } else {
                if (!c->kwargs.empty()) err("positional argument after keyword argument");
                c->a.push_back(parse_expression());
            }
            if (!skip_op(",")) break;
        }
        expect_op(")");
        return c;
    }
    ExprP parse_filters(ExprP e) {
        while (true) {
            if (skip_op("|")) {
                e = parse_call(Expr::filter, expect_name(), std::move(e));
            } else if (is_name("is")) {
                next();
                bool neg = skip_name("not");
                std::string name = expect_name();
                ExprP t;
                if (is_op("(")) {
                    t = parse_call(Expr::test, name, std::move(e));
                } else {
                    t = expr(Expr::test);
                    t->name = name;
                    t->a.push_back(std::move(e));
                    const Tok& c = cur();
                    bool arg = (c.kind == Tok::name && c.s != "else" && c.s != "or" && c.s != "and" && c.s != "if") ||
                               c.kind == Tok::str || c.kind == Tok::integer || c.kind == Tok::floating ||
                               (c.kind == Tok::op && (c.s == "(" || c.s == "[" || c.s == "{"));
                    if (arg) t->a.push_back(parse_postfix(parse_primary()));
                }
                t->negated = neg;
                e = std::move(t);
            } else if (is_op("(")) {
                e = parse_call(Expr::call, "", std::move(e));
            } else {
                return e;
            }
        }
    }

    // ---- helpers ----
    const Tok& cur() const { return toks_[ti_]; }
    const Tok& next() { const Tok& t = toks_[ti_]; if (t.kind != Tok::end) ++ti_; return t; }
    bool is_op(const char* s) const { return cur().kind == Tok::op && cur().s == s; }
    bool is_name(const char* s) const { return cur().kind == Tok::name && cur().s == s; }
    bool skip_op(const char* s) { if (!is_op(s)) return false; ++ti_; return true; }
    bool skip_name(const char* s) { if (!is_name(s)) return false; ++ti_; return true; }
    void expect_op(const char* s) { if (!skip_op(s)) err(std::string("expected '") + s + "'"); }
    std::string expect_name() {
        if (cur().kind != Tok::name) err("expected a name");
        return next().s;
    }
    void expect_end() { if (cur().kind != Tok::end) err("unexpected '" + cur().s + "' at the end of the tag"); }
    [[noreturn]] void err(const std::string& m) const { throw TemplateError{m, cur().line}; }
    ExprP expr(Expr::Kind k) const { auto e = std::make_unique<Expr>(); e->kind = k; e->line = cur().line; return e; }
    NodeP node(Node::Kind k, int line) const { auto n = std::make_unique<Node>(); n->kind = k; n->line = line; return n; }
    ExprP binary(Expr::Kind k, const std::string& op, ExprP l, ExprP r) const {
        auto e = expr(k);
        e->name = op;
        e->a.push_back(std::move(l));
        e->a.push_back(std::move(r));
        return e;
    }

    std::vector<Chunk> chunks_;
    size_t ci_ = 0;
    std::vector<Tok> toks_;
    size_t ti_ = 0;
    int loop_depth_ = 0;
    int depth_ = 0; // Nest
};

} // namespace

Template parse(const std::string& source) {
    Parser p(split_chunks(source));
    return Template{p.parse_all()};
}

} // namespace vkc::jinja
