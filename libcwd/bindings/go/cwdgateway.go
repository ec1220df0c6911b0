// Package cwdgateway is a thin cgo binding of libcwd_gateway, the CrowdWiz gateway as a
// native library (libcwd/include/cwd_gateway.h): create a gateway from its configuration
// TOML, call any gateway function by name with JSON arguments, receive its events, run
// its timer. It is what a Nakama Go module (or any Go game server) links against.
//
// Memory: every string crosses as a C copy made here and freed here; every string the
// library returns is copied into Go and freed with cwd_string_free at once. Threads: a
// Gateway may be used from any number of goroutines; the event and store callbacks run
// on the library's threads and must not call the same Gateway (queue the work instead).
package cwdgateway

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -L${SRCDIR}/../../../target/debug -lcwd_gateway
#include <stdlib.h>
#include <stdint.h>
#include "cwd_gateway.h"

// trampolines.c
void cwd_go_event_trampoline(void *user_data, const char *event_json);
int32_t cwd_go_store_trampoline(void *user_data, const char *request_json, cwd_buffer *response);

// The user_data is a cgo.Handle (an integer), never a Go pointer.
static cwd_status cwd_go_set_event_callback(cwd_gateway *gw, uintptr_t handle) {
	if (handle == 0) return cwd_gateway_set_event_callback(gw, NULL, NULL);
	return cwd_gateway_set_event_callback(gw, cwd_go_event_trampoline, (void *)handle);
}

// In C memory (a Go pointer may not be handed to C inside a struct). cwd_gateway_new
// copies it; the binding frees it with the handle, after cwd_gateway_free.
static cwd_store *cwd_go_new_store(uintptr_t handle) {
	cwd_store *s = malloc(sizeof *s);
	if (s != NULL) {
		s->call = cwd_go_store_trampoline;
		s->user_data = (void *)handle;
	}
	return s;
}
*/
import "C"

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Status is a cwd_status.
type Status int32

const (
	OK                 Status = C.CWD_OK
	ErrInvalidArgument Status = C.CWD_ERR_INVALID_ARGUMENT
	ErrConfig          Status = C.CWD_ERR_CONFIG
	ErrGateway         Status = C.CWD_ERR_GATEWAY
	ErrHost            Status = C.CWD_ERR_HOST
	ErrPanic           Status = C.CWD_ERR_PANIC
)

func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case ErrInvalidArgument:
		return "invalid-argument"
	case ErrConfig:
		return "config"
	case ErrGateway:
		return "gateway"
	case ErrHost:
		return "host"
	case ErrPanic:
		return "panic"
	}
	return fmt.Sprintf("status-%d", int32(s))
}

// Error is a status other than CWD_OK with the library's JSON error
// {"error": {"code", "message", ...}}. For ErrGateway, Code is the HTTP API's error code
// (docs/http-api.md), HTTPStatus its HTTP status, and Details its other fields
// (retry_after_ms, attempts_left, ...).
type Error struct {
	Status     Status
	Code       string
	Message    string
	HTTPStatus int
	Details    map[string]json.RawMessage
	Body       string // the error JSON as the library gave it
}

func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("cwd %s error: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("cwd %s error %s: %s", e.Status, e.Code, e.Message)
}

// IsCode reports whether err is an *Error with this code ("not-linked", ...).
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

func newError(status C.cwd_status, body string) *Error {
	e := &Error{Status: Status(status), Body: body}
	var top map[string]json.RawMessage
	if json.Unmarshal([]byte(body), &top) != nil {
		e.Message = body
		if e.Message == "" {
			e.Message = "(no error text)"
		}
		return e
	}
	if err, ok := top["error"]; ok {
		_ = json.Unmarshal(err, &e.Details)
	}
	take := func(m map[string]json.RawMessage, k string, v interface{}) {
		if raw, ok := m[k]; ok && json.Unmarshal(raw, v) == nil {
			delete(m, k)
		}
	}
	take(e.Details, "code", &e.Code)
	take(e.Details, "message", &e.Message)
	// "status" sits beside "error" or inside it: take either.
	take(top, "status", &e.HTTPStatus)
	take(e.Details, "status", &e.HTTPStatus)
	return e
}

// cstr copies s into C memory; free it with C.free.
func cstr(s string) *C.char { return C.CString(s) }

// take copies a string the library returned and frees it with cwd_string_free.
func take(p *C.char) string {
	if p == nil {
		return ""
	}
	s := C.GoString(p)
	C.cwd_string_free(p)
	return s
}

func check(status C.cwd_status, out *C.char) (string, error) {
	text := take(out)
	if status != C.CWD_OK {
		return "", newError(status, text)
	}
	return text, nil
}

// Version is cwd_version(): the library's version and its component's SHA-256.
func Version() string { return C.GoString(C.cwd_version()) }

// StoreFunc is a store the game supplies instead of SQLite or PostgreSQL: it answers one
// operation (JSON, see cwd_store_fn in the header and wit/store.wit) with JSON, or an
// error when the store cannot answer (the call in progress gets store-unavailable). It
// runs on the library's threads, possibly several at once.
type StoreFunc func(requestJSON string) (responseJSON string, err error)

// Gateway is one cwd_gateway. Safe for concurrent use; Close it when done.
type Gateway struct {
	mu      sync.RWMutex // calls hold it shared, Close exclusively: none in progress at free
	gw      *C.cwd_gateway
	handle  cgo.Handle // user_data of both callbacks: this *Gateway
	store   *C.cwd_store
	storeFn StoreFunc
	onEvent atomic.Value // eventHolder
}

type eventHolder struct{ fn func(eventJSON string) }

// New creates a gateway from a configuration (TOML, as `cwd-gateway run`'s file) and
// keys TOML ("active_wif = ...\nmemo_wif = ..."; "" for [keys] file or the environment),
// with store nil for the configuration's [store], and checks it against the chain.
// The timer does not run until StartTimer.
func New(configTOML, keysTOML string, store StoreFunc) (*Gateway, error) {
	g := &Gateway{storeFn: store}
	g.onEvent.Store(eventHolder{})
	g.handle = cgo.NewHandle(g)

	cConfig := cstr(configTOML)
	defer C.free(unsafe.Pointer(cConfig))
	var cKeys *C.char
	if keysTOML != "" {
		cKeys = cstr(keysTOML)
		defer C.free(unsafe.Pointer(cKeys))
	}
	if store != nil {
		g.store = C.cwd_go_new_store(C.uintptr_t(g.handle))
		if g.store == nil {
			g.handle.Delete()
			return nil, &Error{Status: ErrHost, Message: "out of memory"}
		}
	}
	var out *C.cwd_gateway
	var errText *C.char
	status := C.cwd_gateway_new(cConfig, cKeys, g.store, &out, &errText)
	if _, err := check(status, errText); err != nil {
		g.release()
		return nil, err
	}
	if out == nil {
		g.release()
		return nil, &Error{Status: ErrHost, Message: "cwd_gateway_new returned no gateway"}
	}
	g.gw = out
	return g, nil
}

func (g *Gateway) release() {
	if g.store != nil {
		C.free(unsafe.Pointer(g.store))
		g.store = nil
	}
	g.handle.Delete()
}

var errClosed = &Error{Status: ErrInvalidArgument, Code: "closed", Message: "the gateway is closed"}

// Call calls the gateway function name ("start-link", "adjust-balance", ...) with its
// arguments as a JSON object and returns its answer (JSON). A refusal is an *Error.
func (g *Gateway) Call(name, argsJSON string) (string, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.gw == nil {
		return "", errClosed
	}
	cName := cstr(name)
	defer C.free(unsafe.Pointer(cName))
	cArgs := cstr(argsJSON)
	defer C.free(unsafe.Pointer(cArgs))
	var out *C.char
	return check(C.cwd_gateway_call(g.gw, cName, cArgs, &out), out)
}

// CallJSON marshals args (nil for {}), calls, and unmarshals the answer into out (a
// pointer; nil to discard it).
func (g *Gateway) CallJSON(name string, args interface{}, out interface{}) error {
	argsJSON := []byte("{}")
	if args != nil {
		var err error
		if argsJSON, err = json.Marshal(args); err != nil {
			return err
		}
	}
	answer, err := g.Call(name, string(argsJSON))
	if err != nil || out == nil {
		return err
	}
	return json.Unmarshal([]byte(answer), out)
}

// SetEventCallback sets (fn nil: clears) the function called once per event with the
// event's JSON ({"type": "deposit-credited", ...}). It runs on the library's threads:
// keep it short and never call this Gateway from it; hand the event to a channel.
func (g *Gateway) SetEventCallback(fn func(eventJSON string)) error {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.gw == nil {
		return errClosed
	}
	g.onEvent.Store(eventHolder{fn})
	handle := C.uintptr_t(0)
	if fn != nil {
		handle = C.uintptr_t(g.handle)
	}
	_, err := check(C.cwd_go_set_event_callback(g.gw, handle), nil)
	return err
}

// StartTimer starts the gateway's timer on a thread of the library's own.
func (g *Gateway) StartTimer() error {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.gw == nil {
		return errClosed
	}
	_, err := check(C.cwd_gateway_start_timer(g.gw), nil)
	return err
}

// StopTimer stops the timer and waits for the tick in progress.
func (g *Gateway) StopTimer() error {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.gw == nil {
		return errClosed
	}
	_, err := check(C.cwd_gateway_stop_timer(g.gw), nil)
	return err
}

// Close stops the timer and frees the gateway (cwd_gateway_free), after the calls in
// progress end. A second Close does nothing.
func (g *Gateway) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gw == nil {
		return
	}
	C.cwd_gateway_free(g.gw)
	g.gw = nil
	// No callback runs any more: the handle and the store struct may go.
	g.release()
}

// Devnet is an in-process simulated CrowdWiz chain (cwd_devnet) for examples and tests.
type Devnet struct {
	mu sync.RWMutex
	p  *C.cwd_devnet
}

// StartDevnet starts a devnet with its options JSON ({"block_ms", "irreversible_lag",
// "seed", "accounts": {"name": CWD}}) and returns it with its info JSON ({"url",
// "ws_url", "chain_id", "accounts": {"name": {"id", "active_wif", "memo_wif", ...}}}).
func StartDevnet(optionsJSON string) (*Devnet, string, error) {
	cOptions := cstr(optionsJSON)
	defer C.free(unsafe.Pointer(cOptions))
	var p *C.cwd_devnet
	var info *C.char
	text, err := check(C.cwd_devnet_start(cOptions, &p, &info), info)
	if err != nil {
		return nil, "", err
	}
	return &Devnet{p: p}, text, nil
}

// Control calls the devnet's control API ("transfer", "messages", "balance", ...) with
// its params as JSON and returns the result JSON.
func (d *Devnet) Control(method, paramsJSON string) (string, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.p == nil {
		return "", errClosed
	}
	cMethod := cstr(method)
	defer C.free(unsafe.Pointer(cMethod))
	cParams := cstr(paramsJSON)
	defer C.free(unsafe.Pointer(cParams))
	var out *C.char
	return check(C.cwd_devnet_control(d.p, cMethod, cParams, &out), out)
}

// ControlJSON is Control with params marshalled and the result unmarshalled into out.
func (d *Devnet) ControlJSON(method string, params interface{}, out interface{}) error {
	paramsJSON := []byte("{}")
	if params != nil {
		var err error
		if paramsJSON, err = json.Marshal(params); err != nil {
			return err
		}
	}
	answer, err := d.Control(method, string(paramsJSON))
	if err != nil || out == nil {
		return err
	}
	return json.Unmarshal([]byte(answer), out)
}

// Close stops and frees the devnet.
func (d *Devnet) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.p != nil {
		C.cwd_devnet_free(d.p)
		d.p = nil
	}
}
