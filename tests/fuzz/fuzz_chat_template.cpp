// libFuzzer target: a chat template source through ChatTemplate (parse) and render() of a fixed
// conversation, with and without the generation prompt.
#include "host/text/chat_template.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::vector<vkc::ChatMessage> msgs = {
        {"system", "Be brief."}, {"user", "Hi {{ there }} {% if %}"}, {"assistant", "Hello!"}, {"user", "Bye"}};
    vkc::ChatVars vars;
    vars.flags["enable_thinking"] = false;
    vars.strings["date_string"] = "26 Jul 2024";
    vkc::fuzz::expect_ok_or_error([&] {
        vkc::ChatTemplate t(vkc::fuzz::as_string(data, size));
        for (bool gen : {false, true})
            vkc::fuzz::expect_ok_or_error([&] { (void)t.render(msgs, gen, "<s>", "</s>", vars); });
    });
    return 0;
}
