// C side of the callbacks: the library calls these (from its own threads) with the
// user_data the binding registered, a cgo.Handle as an integer; they hand over to the
// exported Go functions in callbacks.go. Nothing here keeps a Go pointer.
#include <stdint.h>
#include "cwd_gateway.h"
#include "_cgo_export.h"

void cwd_go_event_trampoline(void *user_data, const char *event_json) {
    cwdGoEvent((uintptr_t)user_data, (char *)event_json);
}

int32_t cwd_go_store_trampoline(void *user_data, const char *request_json, cwd_buffer *response) {
    return cwdGoStore((uintptr_t)user_data, (char *)request_json, response);
}
