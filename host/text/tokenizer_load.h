// Concrete tokenizer loaders behind Tokenizer::load (internal to host/text).
#pragma once
#include <memory>
#include <string>

#include <vector>

#include "host/text/text_internal.h"
#include "host/text/tokenizer.h"

namespace vkc {

std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& tokenizer_json);
// The same from the file's text; `where` names it in errors.
std::unique_ptr<Tokenizer> load_hf_tokenizer_json(const std::string& json_text, const std::string& where);
// extra: tokenizer_config.json's added_tokens_decoder (matched in text like HF added tokens).
std::unique_ptr<Tokenizer> load_sp_tokenizer(const std::string& model_file, const std::vector<text::AddedToken>& extra);

} // namespace vkc
