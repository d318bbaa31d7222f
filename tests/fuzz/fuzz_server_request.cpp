// libFuzzer target: a vkconvgpt-server request body through parse_request (noexcept: it must turn every
// bad input into an HttpError). The first byte picks the endpoint and the context size.
#include "tests/fuzz/fuzz_common.h"
#include "tools/server/request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    using namespace vkc::server;
    const Endpoint ep = (data[0] & 1) ? Endpoint::chat : Endpoint::completions;
    ParseOptions opts;
    opts.served_model_name = (data[0] & 2) ? "convgpt" : "";
    opts.n_ctx = (data[0] & 4) ? 256 : 0;
    const ParseResult r = parse_request(vkc::fuzz::as_string(data + 1, size - 1), ep, opts);
    if (!r.ok) (void)error_json(r.error);
    return 0;
}
