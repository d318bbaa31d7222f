#include "host/text/chat_template.h"

#include "host/text/jinja.h"
#include "runtime/status.h"

namespace vkc {

namespace {
[[noreturn]] void template_fail(const jinja::TemplateError& e) {
    fail(Status::unsupported, "chat template cannot be rendered: " + e.msg + " (line " + std::to_string(e.line) + ")");
}
} // namespace

struct ChatTemplate::Impl {
    jinja::Template tmpl;
};

ChatTemplate::ChatTemplate(const std::string& source) : impl_(std::make_unique<Impl>()) {
    try {
        impl_->tmpl = jinja::parse(source);
    } catch (const jinja::TemplateError& e) {
        template_fail(e);
    }
}

ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                 const std::string& bos_token, const std::string& eos_token, const ChatVars& vars) const {
    using jinja::Value;
    std::map<std::string, Value> g;
    for (const auto& [k, v] : vars.strings) g[k] = Value::str(v);
    for (const auto& [k, v] : vars.flags) g[k] = Value::boolean_(v);
    jinja::List msgs;
    for (const auto& m : messages) {
        Value d = Value::dict_();
        d.d->set("role", Value::str(m.role));
        d.d->set("content", Value::str(m.content));
        msgs.push_back(d);
    }
    g["messages"] = Value::list_(std::move(msgs));
    g["add_generation_prompt"] = Value::boolean_(add_generation_prompt);
    g["bos_token"] = Value::str(bos_token);
    g["eos_token"] = Value::str(eos_token);
    if (!g.count("tools")) g["tools"] = Value::null();
    if (!g.count("documents")) g["documents"] = Value::null();
    try {
        return jinja::render(impl_->tmpl, g);
    } catch (const jinja::TemplateError& e) {
        template_fail(e);
    } catch (const jinja::RaisedError& e) {
        fail(Status::invalid_argument, "chat template rejected the conversation: " + e.msg);
    }
}

std::string render_chat(const std::string& tmpl, const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                        const std::string& bos_token, const std::string& eos_token) {
    return ChatTemplate(tmpl).render(messages, add_generation_prompt, bos_token, eos_token);
}

std::string render_chatml(const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
    std::string out;
    for (const auto& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
    if (add_generation_prompt) out += "<|im_start|>assistant\n";
    return out;
}

} // namespace vkc
