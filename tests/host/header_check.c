/* The public C API header on its own, compiled as strict C99 (-pedantic-errors -Werror, no GNU
 * extensions): what an Android NDK build, a JNI wrapper or any C FFI sees. It must pull in only
 * <stdbool.h>, <stddef.h> and <stdint.h>: no POSIX/Linux header may be reached through it. */
#include "vkconvgpt.h"

#if defined(_UNISTD_H) || defined(_SYS_TYPES_H) || defined(_SYS_STAT_H) || defined(_SYS_MMAN_H) || \
    defined(_PTHREAD_H) || defined(_FCNTL_H) || defined(_LINUX_TYPES_H) || defined(_STDIO_H) || defined(_STDLIB_H)
#error "vkconvgpt.h includes a platform header; it must stay freestanding C99"
#endif

/* Every callback carries a user pointer (JNI: the JNIEnv/jobject context lives there, not in globals). */
static bool on_progress(float f, void* user) { (void)f; return user != NULL; }
static bool on_token(const char* piece, int32_t id, void* user) { (void)piece; (void)id; return user != NULL; }

int vkc_header_check(void);
int vkc_header_check(void) {
    vkc_model_params p = vkc_model_default_params();
    p.progress = on_progress;
    p.progress_user = NULL;
    vkc_token_fn t = on_token;
    return (int)p.precision + (t != NULL);
}
