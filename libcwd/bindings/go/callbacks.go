package cwdgateway

// The exported Go side of the callbacks (trampolines.c calls these). A file with
// //export may only declare things in its preamble.

/*
#include <stdint.h>
#include "cwd_gateway.h"
*/
import "C"

import (
	"fmt"
	"os"
	"runtime/cgo"
	"unsafe"
)

//export cwdGoEvent
func cwdGoEvent(userData C.uintptr_t, eventJSON *C.char) {
	// A panic must not unwind into the library's thread: it would abort the process.
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "cwdgateway: the event callback panicked: %v\n", r)
		}
	}()
	g := cgo.Handle(userData).Value().(*Gateway)
	if h, _ := g.onEvent.Load().(eventHolder); h.fn != nil {
		h.fn(C.GoString(eventJSON)) // a copy: eventJSON is borrowed for this call only
	}
}

//export cwdGoStore
func cwdGoStore(userData C.uintptr_t, requestJSON *C.char, response *C.cwd_buffer) (rc C.int32_t) {
	answer := func(text string) {
		// cwd_buffer_set copies: passing Go memory for the call's duration is allowed
		// (the NUL only makes &b[0] valid for an empty text).
		b := append([]byte(text), 0)
		C.cwd_buffer_set(response, (*C.char)(unsafe.Pointer(&b[0])), C.size_t(len(text)))
	}
	defer func() {
		if r := recover(); r != nil {
			answer(fmt.Sprintf("the store callback panicked: %v", r))
			rc = 1
		}
	}()
	g := cgo.Handle(userData).Value().(*Gateway)
	out, err := g.storeFn(C.GoString(requestJSON))
	if err != nil {
		answer(err.Error())
		return 1
	}
	answer(out)
	return 0
}
