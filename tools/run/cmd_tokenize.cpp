// vkconvgpt-run tokenize --tokenizer FILE_OR_DIR --text TEXT [--no-special]
// Prints the ids as a JSON array on one line. The C API tokenizes only through a loaded model (no
// tokenizer-only entry point), so this command uses vkc::Tokenizer (host/text/tokenizer.h) directly:
// no GPU is needed.
#include <cstdio>
#include <stdexcept>

#include "host/text/tokenizer.h"
#include "tools/run/commands.h"
#include "tools/run/progress.h"

namespace vkc::tool {

Runner add_tokenize(CLI::App& app) {
    struct Opts {
        std::string tokenizer, text;
        bool no_special = false;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = app.add_subcommand("tokenize", "print the token ids of a text as a JSON array");
    sub->add_option("--tokenizer", o->tokenizer, "tokenizer.json, SentencePiece .model, or a directory")->required();
    sub->add_option("--text", o->text, "UTF-8 text")->required();
    sub->add_flag("--no-special", o->no_special, "do not add bos/eos (default: as the tokenizer's config says)");
    return [o]() {
        size_t bad = utf8_bad_offset(o->text);
        if (bad != std::string::npos)
            throw std::runtime_error("--text is not valid UTF-8 (byte offset " + std::to_string(bad) + ")");
        auto tok = Tokenizer::load(o->tokenizer);
        std::vector<int32_t> ids = tok->encode(o->text, !o->no_special);
        std::string out = "[";
        for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
        out += "]\n";
        std::fputs(out.c_str(), stdout);
        return 0;
    };
}

} // namespace vkc::tool
