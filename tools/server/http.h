// HTTP routes of vkconvgpt-server (OpenAI-compatible /v1 endpoints, /health, /metrics) on cpp-httplib.
#pragma once
#include <httplib.h>

#include <memory>
#include <string>

#include "host/include/vkconvgpt.h"
#include "host/text/chat_template.h"
#include "tools/server/metrics.h"
#include "tools/server/scheduler.h"

namespace vkc::server {

struct ServerState {
    vkc_model* model = nullptr;
    std::string model_name;
    std::string api_key;                  // "": no authentication
    std::unique_ptr<ChatTemplate> tmpl;   // null: ChatML
    std::string bos, eos;                 // token texts for the template
    Scheduler* sched = nullptr;
    Metrics* metrics = nullptr;
    int64_t created = 0;                  // unix time the server started (model "created")
};

void install_routes(httplib::Server& svr, ServerState& st);

} // namespace vkc::server
