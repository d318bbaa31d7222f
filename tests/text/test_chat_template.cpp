// Chat templates: real-world templates (ChatML/Qwen, Llama 2, Zephyr, Gemma, Qwen3-style) against
// expected strings derived by hand (and checked against Jinja2 with transformers' settings), plus the
// errors for unsupported constructs and for raise_exception.
#include <gtest/gtest.h>

#include "host/text/chat_template.h"
#include "host/text/tokenizer.h"
#include "runtime/status.h"

using vkc::ChatMessage;
using vkc::ChatTemplate;
using vkc::Error;
using vkc::render_chat;
using vkc::Status;

namespace {

const char* chatml = R"({% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}
)";

// Llama 2: system folded into the first user turn; roles must alternate.
const char* llama2 = R"({% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}
)";

// Zephyr: one tag per line, so trim_blocks / lstrip_blocks decide every newline.
const char* zephyr = R"({% for message in messages %}
{% if message['role'] == 'user' %}
{{ '<|user|>\n' + message['content'] + eos_token }}
{% elif message['role'] == 'system' %}
{{ '<|system|>\n' + message['content'] + eos_token }}
{% elif message['role'] == 'assistant' %}
{{ '<|assistant|>\n'  + message['content'] + eos_token }}
{% endif %}
{% if loop.last and add_generation_prompt %}
{{ '<|assistant|>' }}
{% endif %}
{% endfor %}
)";

// Gemma: assistant -> model, no system role, `| trim` binds to message['content'] only.
const char* gemma = R"({{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}
)";

// Qwen3 style: namespace(), reversed slice, str methods, `is string`, `is defined ... is false`.
const char* qwen3 = R"({%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\n\n' }}
    {%- endif %}
    {{- "# Tools\n\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools><|im_end|>\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is string %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in content %}
                {%- set reasoning_content = content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
                {%- set content = content.split('</think>')[-1].lstrip('\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\n<think>\n' + reasoning_content.strip('\n') + '\n</think>\n\n' + content.lstrip('\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\n' + content }}
        {%- endif %}
        {{- '<|im_end|>\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %}
)";

const std::vector<ChatMessage> one = {{"user", "Hi"}};
const std::vector<ChatMessage> with_system = {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", " Hello! "}, {"user", "Bye"}};
const std::vector<ChatMessage> pair = {{"user", "Hi"}, {"assistant", "Hello"}};

// Runs f, expects vkc::Error with `status` and every part of `parts` in its message.
template <class F>
void expect_error(F f, Status status, std::vector<std::string> parts) {
    try {
        f();
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), status) << e.what();
        for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << "\nmissing: " << p;
    }
}

} // namespace

TEST(ChatTemplate, ChatMLWithDefaultSystem) {
    EXPECT_EQ(render_chat(chatml, one, true, "<s>", "</s>"),
              "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    EXPECT_EQ(render_chat(chatml, with_system, true, "", ""),
              "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n Hello! <|im_end|>\n"
              "<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n");
    EXPECT_EQ(render_chat(chatml, pair, false, "", ""),
              "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n");
}

TEST(ChatTemplate, Llama2SystemAndAlternation) {
    EXPECT_EQ(render_chat(llama2, one, true, "<s>", "</s>"), "<s>[INST] Hi [/INST]");
    EXPECT_EQ(render_chat(llama2, with_system, true, "<s>", "</s>"),
              "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] Bye [/INST]");
    EXPECT_EQ(render_chat(llama2, pair, false, "<s>", "</s>"), "<s>[INST] Hi [/INST] Hello </s>");
    expect_error([] { render_chat(llama2, {{"user", "a"}, {"user", "b"}}, true, "<s>", "</s>"); }, Status::invalid_argument,
                 {"chat template rejected the conversation", "Conversation roles must alternate user/assistant/user/assistant/..."});
}

TEST(ChatTemplate, ZephyrWhitespaceRules) {
    EXPECT_EQ(render_chat(zephyr, one, true, "<s>", "</s>"), "<|user|>\nHi</s>\n<|assistant|>\n");
    EXPECT_EQ(render_chat(zephyr, with_system, true, "<s>", "</s>"),
              "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\n Hello! </s>\n<|user|>\nBye</s>\n<|assistant|>\n");
    EXPECT_EQ(render_chat(zephyr, pair, false, "<s>", "</s>"), "<|user|>\nHi</s>\n<|assistant|>\nHello</s>\n");
}

TEST(ChatTemplate, GemmaRoleMapping) {
    EXPECT_EQ(render_chat(gemma, one, true, "<bos>", "<eos>"), "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n");
    EXPECT_EQ(render_chat(gemma, {{"user", "  Hi  "}, {"assistant", "Hello\n"}}, false, "<bos>", "<eos>"),
              "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello<end_of_turn>\n");
    expect_error([] { render_chat(gemma, with_system, true, "<bos>", "<eos>"); }, Status::invalid_argument, {"System role not supported"});
}

TEST(ChatTemplate, Qwen3Namespaces) {
    EXPECT_EQ(render_chat(qwen3, one, true, "", ""), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    EXPECT_EQ(render_chat(qwen3, pair, false, "", ""),
              "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nHello<|im_end|>\n");
    // Reasoning of earlier turns is dropped; the last assistant turn keeps it.
    std::vector<ChatMessage> think = {{"user", "q"}, {"assistant", "<think>\nr1\n</think>\n\na1"}, {"user", "q2"},
                                      {"assistant", "<think>\nr2\n</think>\n\na2"}};
    EXPECT_EQ(render_chat(qwen3, think, false, "", ""),
              "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\na1<|im_end|>\n<|im_start|>user\nq2<|im_end|>\n"
              "<|im_start|>assistant\n<think>\nr2\n</think>\n\na2<|im_end|>\n");
    vkc::ChatVars vars;
    vars.flags["enable_thinking"] = false;
    EXPECT_EQ(ChatTemplate(qwen3).render(one, true, "", "", vars),
              "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
}

TEST(ChatTemplate, ExpressionsAndLoops) {
    const char* t = "{% for m in messages if m.role != 'system' %}{{ loop.index }}/{{ loop.length }}:{{ m.role|upper }}"
                    "{{ ',' if not loop.last }}{% else %}empty{% endfor %}|{{ messages|length }}|{{ messages[-1].content[:2] }}"
                    "|{{ 7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 'ab' * 2 }} {{ 'x' ~ 1 ~ none }}|{{ {'k': [1, none, true]}|tojson }}"
                    "|{{ undefined_var|default('d') }} {{ x is not defined }} {{ 'b' in 'abc' }} {{ [1, 2] + [3] }}"
                    "{% set ns = namespace(n=0) %}{% for i in range(10) %}{% if i == 5 %}{% break %}{% endif %}"
                    "{% if i is odd %}{% continue %}{% endif %}{% set ns.n = ns.n + i %}{% endfor %}|{{ ns.n }}";
    EXPECT_EQ(render_chat(t, with_system, false, "", ""),
              "1/3:USER,2/3:ASSISTANT,3/3:USER|4|By|3 2 3.5 abab x1None|{\"k\": [1, null, true]}|d True True [1, 2, 3]|6");
    // No messages: the for-else branch; then messages[-1] is undefined and .content fails, as in Jinja.
    EXPECT_EQ(render_chat("{% for m in messages %}{{ m.role }}{% else %}empty{% endfor %}", {}, false, "", ""), "empty");
    expect_error([&] { render_chat(t, {}, false, "", ""); }, Status::unsupported, {"index -1 out of range"});
}

TEST(ChatTemplate, UnsupportedConstructsAreRefusedWithWhereAndWhy) {
    expect_error([] { ChatTemplate("line one\n{% macro greet(n) %}hi{% endmacro %}"); }, Status::unsupported,
                 {"chat template cannot be rendered", "'macro' tag is not supported", "line 2"});
    expect_error([] { render_chat("{{ messages[0].content|wordcount }}", one, false, "", ""); }, Status::unsupported,
                 {"filter 'wordcount' is not supported", "line 1"});
    expect_error([] { render_chat("{{ messages[0].content.format(1) }}", one, false, "", ""); }, Status::unsupported,
                 {"method 'format' of 'str' is not supported"});
    expect_error([] { render_chat("{% if x %}never closed", one, false, "", ""); }, Status::unsupported, {"missing {% endif %}"});
    expect_error([] { render_chat("\n\n{{ message.content }}", one, false, "", ""); }, Status::unsupported,
                 {"'message' is undefined", "line 3"});
    expect_error([] { render_chat("{{ 1 < 2 < 3 }}", one, false, "", ""); }, Status::unsupported, {"chained comparisons"});
    expect_error([] { render_chat("{{ 'a' + 1 }}", one, false, "", ""); }, Status::unsupported,
                 {"unsupported operand types for +: 'str' and 'int'"});
    expect_error([] { render_chat("{{ '%s' % 'x' }}", one, false, "", ""); }, Status::unsupported, {"printf-style"});
}

// Found by tests/fuzz/fuzz_chat_template (corpus/chat_template/crash-*): malformed escapes and numeric
// literals threw std::invalid_argument / std::out_of_range out of the parser instead of vkc::Error.
TEST(ChatTemplate, MalformedLiteralsAreErrorsNotCrashes) {
    expect_error([] { ChatTemplate("{{ '\\xzz' }}"); }, Status::unsupported, {"bad escape in string literal", "line 1"});
    expect_error([] { ChatTemplate("{{ '\\u12' }}"); }, Status::unsupported, {"bad escape in string literal"});
    expect_error([] { ChatTemplate("{{ '\\x+1' }}"); }, Status::unsupported, {"bad escape in string literal"});
    expect_error([] { ChatTemplate("{{ '\\U00110000' }}"); }, Status::unsupported, {"names no Unicode character"});
    expect_error([] { ChatTemplate("{{ '\\ud800' }}"); }, Status::unsupported, {"names no Unicode character"});
    expect_error([] { ChatTemplate("\n{{ 99999999999999999999 }}"); }, Status::unsupported,
                 {"integer literal 99999999999999999999 is too large", "line 2"});
    EXPECT_EQ(render_chat("{{ '\\x41\\u00e9\\U0001F600' }}", one, false, "", ""), "A\u00e9\U0001F600");
    EXPECT_EQ(render_chat("{{ 1e999 > 1 }} {{ 1e-999 == 0 }} {{ 9223372036854775807 }}", one, false, "", ""),
              "True True 9223372036854775807");
}

// Found by tests/fuzz/fuzz_chat_template (corpus/chat_template/crash-deep-nesting): thousands of nested
// '[' overflowed the stack of the recursive-descent parser. Nesting is bounded (100 levels) for
// expressions, unary chains and blocks; the limit itself still parses.
TEST(ChatTemplate, DeepNestingIsAnErrorNotAStackOverflow) {
    auto nested = [](const std::string& open, const std::string& mid, const std::string& close, int n) {
        std::string s;
        for (int i = 0; i < n; ++i) s += open;
        s += mid;
        for (int i = 0; i < n; ++i) s += close;
        return s;
    };
    for (const std::string& t : {"{{ " + nested("[", "1", "]", 5000) + " }}", "{{ " + nested("(", "1", ")", 5000) + " }}",
                                 "{{ " + nested("-", "1", "", 5000) + " }}",
                                 nested("{% if true %}", "x", "{% endif %}", 5000)})
        expect_error([&] { ChatTemplate{t}; }, Status::unsupported, {"nested deeper than 100 levels"});
    EXPECT_EQ(render_chat("{{ " + nested("(", "7", ")", 90) + " }}", one, false, "", ""), "7");
    EXPECT_EQ(render_chat(nested("{% if true %}", "y", "{% endif %}", 90), one, false, "", ""), "y");
}

// Found by tests/fuzz/fuzz_chat_template (corpus/chat_template/crash-int-overflow): integer arithmetic
// overflowed int64 (UB), and '**' looped y times. Overflow is an error; '**' takes at most 63 rounds.
TEST(ChatTemplate, IntegerOverflowIsAnError) {
    for (const char* t : {"{{ 9223372036854775807 + 1 }}", "{{ -9223372036854775807 - 2 }}", "{{ 33333330 * 1111110888888900 }}",
                          "{{ 2 ** 63 }}", "{{ 3 ** 9223372036854775807 }}", "{{ (-9223372036854775807 - 1) // -1 }}"})
        expect_error([&] { render_chat(t, one, false, "", ""); }, Status::unsupported, {"integer overflow"});
    EXPECT_EQ(render_chat("{{ 2 ** 62 }} {{ (-2) ** 63 }} {{ 1 ** 9223372036854775807 }} {{ 0 ** 0 }}", one, false, "", ""),
              "4611686018427387904 -9223372036854775808 1 1");
}

// Fuzz finding (a timeout): a string repeated ~10^13 times. What a render builds is bounded (16 Mi
// characters or items per string, list, filter result and output); an empty sequence repeated any number
// of times is empty at once; a negative indent width indents by nothing.
TEST(ChatTemplate, HugeResultsAreAnError) {
    for (const char* t : {"{{ 'ab' * 10000000000 }}", "{{ [1, 2] * 10000000000 }}", "{{ ('x' * 4096) * 5000 }}",
                          "{{ ('x' * 10000000) ~ ('y' * 10000000) }}", "{{ ('x' * 10000000) + ('y' * 10000000) }}",
                          "{% for i in [0] * 20 %}{{ 'x' * 1000000 }}{% endfor %}",
                          "{{0000000~0000000000000~0608946914719*46.7903| trim }}", // the fuzzer's input
                          "{{ ('a' * 10000000) | replace('a', 'bb') }}", "{{ ('a' * 10000000).replace('a', 'bb') }}",
                          "{{ 'x' | indent(100000000000) }}", "{{ ['x' * 10000000, 'y' * 10000000] | join }}",
                          "{{ '-'.join(['x' * 10000000, 'y' * 10000000]) }}"})
        expect_error([&] { render_chat(t, one, false, "", ""); }, Status::unsupported, {"too large"});
    EXPECT_EQ(render_chat("[{{ '' * 9223372036854775807 }}][{{ [] * 9223372036854775807 }}]", one, false, "", ""), "[][[]]");
    EXPECT_EQ(render_chat("{{ ('ab' * 3) ~ ('c' * -2) }}", one, false, "", ""), "ababab");
    EXPECT_EQ(render_chat("{{ 'a\nb' | indent(-3, true) }}|{{ 'a\nb' | indent(2) }}", one, false, "", ""), "a\nb|a\n  b");
}

TEST(ChatTemplate, ChatMLFallback) {
    EXPECT_EQ(vkc::render_chatml(with_system, true),
              "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n Hello! <|im_end|>\n"
              "<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n");
    EXPECT_EQ(vkc::render_chatml(pair, false), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n");
}
