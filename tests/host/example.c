/* Minimal C99 user of the vkconvgpt C API: loads a checkpoint directory, generates greedily from
 * prompt ids and prints the generated ids, comma-separated, on stdout.
 *
 *   example MODEL_DIR PROMPT_IDS [N_TOKENS] [f16|f32]      e.g. example models/tiny 5,17,3 16 f32
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vkconvgpt.h"

typedef struct {
    int n;
} printer;

static bool print_token(const char* piece, int32_t id, void* user) {
    printer* p = (printer*)user;
    (void)piece; /* "" here: the model folder may have no tokenizer */
    if (id < 0) return true;
    printf("%s%d", p->n++ ? "," : "", (int)id);
    return true;
}

static int parse_ids(const char* s, int32_t* out, int cap) {
    int n = 0;
    while (*s) {
        char* end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || n == cap) return -1;
        out[n++] = (int32_t)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return -1;
    }
    return n;
}

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL_DIR PROMPT_IDS [N_TOKENS] [f16|f32]\n", argv[0]);
        return 2;
    }
    int32_t prompt[4096];
    int n_prompt = parse_ids(argv[2], prompt, 4096);
    if (n_prompt < 0) {
        fprintf(stderr, "error: PROMPT_IDS must be comma-separated non-negative integers\n");
        return 2;
    }
    int n_tokens = argc > 3 ? atoi(argv[3]) : 16;

    vkc_model_params mp = vkc_model_default_params();
    mp.precision = (argc > 4 && strcmp(argv[4], "f16") == 0) ? VKC_PRECISION_F16 : VKC_PRECISION_F32;
    vkc_model* model = NULL;
    vkc_status st = vkc_model_load(argv[1], &mp, &model);
    if (st != VKC_OK) {
        fprintf(stderr, "error: %s: %s\n", vkc_status_str(st), vkc_last_error());
        return 1;
    }
    fprintf(stderr, "%s, vocab %d, context %d, on %s\n", vkc_model_arch(model), (int)vkc_model_vocab_size(model),
            (int)vkc_model_max_context(model), vkc_model_device_name(model));

    vkc_session* session = NULL;
    vkc_sampler* sampler = NULL;
    vkc_sampler_params sp = vkc_sampler_default_params();
    sp.temperature = 0.0f; /* greedy */
    st = vkc_session_create(model, NULL, &session);
    if (st == VKC_OK) st = vkc_sampler_create(&sp, &sampler);
    if (st == VKC_OK) {
        vkc_generate_params gp = vkc_generate_default_params();
        gp.max_tokens = n_tokens;
        gp.stop_on_eos = false;
        printer p = {0};
        vkc_generate_result r;
        st = vkc_generate_ids(session, sampler, prompt, n_prompt, &gp, print_token, &p, &r);
        printf("\n");
        if (st == VKC_OK)
            fprintf(stderr, "prompt %d tokens, generated %d, stop reason %d\n", (int)r.n_prompt, (int)r.n_generated,
                    (int)r.stop_reason);
    }
    if (st != VKC_OK) fprintf(stderr, "error: %s: %s\n", vkc_status_str(st), vkc_last_error());
    vkc_sampler_free(sampler);
    vkc_session_free(session);
    vkc_model_free(model);
    return st == VKC_OK ? 0 : 1;
}
