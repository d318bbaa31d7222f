// Chat templates: a Jinja subset that renders the chat_template strings of tokenizer_config.json the
// way transformers' apply_chat_template does (trim_blocks, lstrip_blocks, loop controls; variables
// messages, add_generation_prompt, bos_token, eos_token, tools=None, documents=None).
// Supported: {% for %} (with loop.index/index0/first/last/length/..., `if` filter, else, break,
// continue), {% if %}/{% elif %}/{% else %}, {% set %} (also ns.attr with namespace(), and block set),
// {% generation %}, comments, {%- -%} / {{- -}}; expressions with literals (strings, numbers, lists,
// dicts, tuples), attribute / item access, slices, + - * / // % ** ~, comparisons, in / not in,
// and / or / not, `x if c else y`, `is [not] <test>`; filters trim length count upper lower capitalize
// title default string int float abs list first last reverse join replace items tojson indent safe
// map(attribute=) select reject selectattr rejectattr; tests defined undefined none boolean true false
// string number integer float mapping iterable sequence odd even divisibleby eq ne in lower upper;
// string methods strip lstrip rstrip upper lower title capitalize startswith endswith replace split
// find count join; dict methods get items keys values; functions raise_exception namespace dict range
// strftime_now. Anything else (macros, includes, unknown filters, ...) is refused with an error that
// says what and where; nothing is skipped or guessed.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace vkc {

struct ChatMessage {
    std::string role;
    std::string content;
};

// Extra template variables (e.g. "enable_thinking": false, "date_string": "26 Jul 2024").
struct ChatVars {
    std::map<std::string, std::string> strings;
    std::map<std::string, bool> flags;
};

class ChatTemplate {
public:
    // Parses the template. Throws Error(unsupported, "chat template cannot be rendered: <why> (line N)").
    explicit ChatTemplate(const std::string& source);
    ~ChatTemplate();
    ChatTemplate(ChatTemplate&&) noexcept;
    ChatTemplate& operator=(ChatTemplate&&) noexcept;

    // Errors: Error(unsupported, "chat template cannot be rendered: ...") for constructs or values it
    // cannot evaluate; Error(invalid_argument, "chat template rejected the conversation: <message>")
    // when the template calls raise_exception (e.g. roles that do not alternate).
    std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt, const std::string& bos_token,
                       const std::string& eos_token, const ChatVars& vars = {}) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Parses and renders in one call (same errors as ChatTemplate).
std::string render_chat(const std::string& tmpl, const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                        const std::string& bos_token, const std::string& eos_token);

// The explicit fallback for models without a template: ChatML,
// "<|im_start|>{role}\n{content}<|im_end|>\n" per message, then "<|im_start|>assistant\n" if asked.
std::string render_chatml(const std::vector<ChatMessage>& messages, bool add_generation_prompt);

} // namespace vkc
