"""A thin ctypes binding of libcwd_gateway, the CrowdWiz gateway as a native library
(libcwd/include/cwd_gateway.h): create a gateway from its configuration TOML, call any
gateway function by name with a dict of arguments, receive its events, run its timer.

The library is found in $CWD_LIB_DIR (libcwd_gateway.so), else by the dynamic loader's
search (LD_LIBRARY_PATH, ...), or pass `lib_path` to load().

Memory: strings go in as bytes Python owns for the call; every string the library returns
is read as a raw pointer (restype c_void_p), copied, and freed with cwd_string_free at
once. Threads: a Gateway may be used from many threads (ctypes releases the GIL during
each call); the event and store callbacks run on the library's threads (ctypes takes the
GIL for them) and must not call the same Gateway: queue the work instead.
"""

import ctypes
import json
import os
import sys
import threading
from ctypes import CFUNCTYPE, POINTER, Structure, c_char_p, c_int32, c_size_t, c_void_p

OK = 0
ERR_INVALID_ARGUMENT = 1
ERR_CONFIG = 2
ERR_GATEWAY = 3
ERR_HOST = 4
ERR_PANIC = 5
_STATUS_NAMES = {0: "ok", 1: "invalid-argument", 2: "config", 3: "gateway", 4: "host", 5: "panic"}

# void (*)(void *user_data, const char *event_json): the text is borrowed for the call;
# c_char_p makes ctypes copy it into bytes before the Python function runs.
EVENT_FN = CFUNCTYPE(None, c_void_p, c_char_p)
# int32_t (*)(void *user_data, const char *request_json, cwd_buffer *response)
STORE_FN = CFUNCTYPE(c_int32, c_void_p, c_char_p, c_void_p)


class _CwdStore(Structure):
    _fields_ = [("call", STORE_FN), ("user_data", c_void_p)]


class CwdError(Exception):
    """A status other than CWD_OK with the library's JSON error
    {"error": {"code", "message", ...}}. For ERR_GATEWAY, `code` is the HTTP API's error
    code (docs/http-api.md), `http_status` its HTTP status and `details` its other fields
    (retry_after_ms, attempts_left, ...)."""

    def __init__(self, status, body):
        self.status = status
        self.body = body
        self.code = None
        self.message = body or "(no error text)"
        self.http_status = None
        self.details = {}
        try:
            top = json.loads(body) if body else None
        except ValueError:
            top = None
        if isinstance(top, dict):
            err = top.get("error")
            if isinstance(err, dict):
                self.details = dict(err)
                self.code = self.details.pop("code", None)
                self.message = self.details.pop("message", self.message)
                self.http_status = self.details.pop("status", None)
            if "status" in top:  # beside "error" or inside it
                self.http_status = top["status"]
        name = _STATUS_NAMES.get(status, "status-%d" % status)
        text = "cwd %s error %s: %s" % (name, self.code, self.message) if self.code else "cwd %s error: %s" % (name, self.message)
        super().__init__(text)


_lib = None
_lib_lock = threading.Lock()


def load(lib_path=None):
    """Loads libcwd_gateway once (the first call's path wins) and declares its functions."""
    global _lib
    with _lib_lock:
        if _lib is not None:
            return _lib
        if lib_path is None:
            lib_dir = os.environ.get("CWD_LIB_DIR")
            lib_path = os.path.join(lib_dir, "libcwd_gateway.so") if lib_dir else "libcwd_gateway.so"
        lib = ctypes.CDLL(lib_path)
        if not hasattr(lib, "cwd_gateway_new"):
            raise OSError("%s is not the C library (no cwd_gateway_new): cargo build -p cwd-gateway-c" % lib_path)

        def declare(name, restype, *argtypes):
            f = getattr(lib, name)
            f.restype = restype
            f.argtypes = list(argtypes)

        out = POINTER(c_void_p)  # char ** / cwd_gateway ** / cwd_devnet **
        declare("cwd_version", c_char_p)  # static: not freed
        declare("cwd_string_free", None, c_void_p)
        declare("cwd_buffer_set", None, c_void_p, c_char_p, c_size_t)
        declare("cwd_gateway_new", c_int32, c_char_p, c_char_p, POINTER(_CwdStore), out, out)
        declare("cwd_gateway_call", c_int32, c_void_p, c_char_p, c_char_p, out)
        declare("cwd_gateway_set_event_callback", c_int32, c_void_p, EVENT_FN, c_void_p)
        declare("cwd_gateway_start_timer", c_int32, c_void_p)
        declare("cwd_gateway_stop_timer", c_int32, c_void_p)
        declare("cwd_gateway_free", None, c_void_p)
        declare("cwd_devnet_start", c_int32, c_char_p, out, out)
        declare("cwd_devnet_control", c_int32, c_void_p, c_char_p, c_char_p, out)
        declare("cwd_devnet_free", None, c_void_p)
        _lib = lib
        return lib


def version():
    """cwd_version(): the library's version and its component's SHA-256."""
    return load().cwd_version().decode()


def _take(lib, ptr):
    """Copies a string the library returned and frees it with cwd_string_free."""
    if not ptr.value:
        return ""
    try:
        return ctypes.string_at(ptr.value).decode("utf-8")
    finally:
        lib.cwd_string_free(ptr.value)
        ptr.value = None


def _check(lib, status, out=None):
    text = _take(lib, out) if out is not None else ""
    if status != OK:
        raise CwdError(status, text)
    return text


def _text(s):
    return s.encode("utf-8") if isinstance(s, str) else s


class _InFlight:
    """Calls run in parallel; close() waits for them (no call may be in progress at free)."""

    def __init__(self):
        self._cond = threading.Condition()
        self._count = 0
        self.closed = False

    def __enter__(self):
        with self._cond:
            if self.closed:
                raise CwdError(ERR_INVALID_ARGUMENT, '{"error": {"code": "closed", "message": "already closed"}}')
            self._count += 1

    def __exit__(self, *exc):
        with self._cond:
            self._count -= 1
            self._cond.notify_all()

    def close(self):
        """True for the first close, once no call is in progress."""
        with self._cond:
            if self.closed:
                return False
            self.closed = True
            self._cond.wait_for(lambda: self._count == 0)
            return True


class Gateway:
    """One cwd_gateway. Use from any thread; close() it (or use `with`) when done.

    config_toml: the configuration, as `cwd-gateway run`'s file.
    keys_toml: "active_wif = ...\\nmemo_wif = ..." (None: [keys] file or the environment).
    store: None for the configuration's [store], or a function taking one store operation
        (a dict, see cwd_store_fn in the header) and returning its answer (a dict); an
        exception means the store could not answer. It runs on the library's threads.
    """

    def __init__(self, config_toml, keys_toml=None, store=None, lib_path=None):
        self._lib = load(lib_path)
        self._gw = None
        self._calls = _InFlight()
        self._event_fn = None  # the CFUNCTYPE object: kept alive while the library holds it
        self._store_fn = None
        self._store = None
        if store is not None:
            self._store_fn = STORE_FN(self._store_trampoline(store))
            self._store = _CwdStore(self._store_fn, None)
        gw, err = c_void_p(), c_void_p()
        status = self._lib.cwd_gateway_new(
            _text(config_toml),
            _text(keys_toml) if keys_toml is not None else None,
            ctypes.byref(self._store) if self._store is not None else None,
            ctypes.byref(gw),
            ctypes.byref(err),
        )
        _check(self._lib, status, err)
        if not gw.value:
            raise CwdError(ERR_HOST, "cwd_gateway_new returned no gateway")
        self._gw = gw

    def _store_trampoline(self, store):
        lib = self._lib

        def call(_user_data, request_json, response):
            # An exception must not escape into the library (ctypes would print it and
            # answer 0, "answered"): it is the store's failure, with its reason.
            try:
                answer = json.dumps(store(json.loads(request_json))).encode("utf-8")
                lib.cwd_buffer_set(response, answer, len(answer))
                return 0
            except BaseException as e:  # noqa: BLE001 (nothing may cross into C)
                reason = ("store callback failed: %r" % (e,)).encode("utf-8")
                lib.cwd_buffer_set(response, reason, len(reason))
                return 1

        return call

    def call_json(self, name, args_json="{}"):
        """Calls the gateway function `name` with a JSON text; returns the answer's text."""
        with self._calls:
            out = c_void_p()
            status = self._lib.cwd_gateway_call(self._gw, _text(name), _text(args_json), ctypes.byref(out))
            return _check(self._lib, status, out)

    def call(self, name, args=None):
        """Calls the gateway function `name` ("start-link", "adjust-balance", ...) with a
        dict of arguments; returns its answer (a dict), or raises CwdError."""
        return json.loads(self.call_json(name, json.dumps(args or {})))

    def set_event_callback(self, fn):
        """Sets (None: clears) fn(event: dict), called once per event
        ({"type": "deposit-credited", ...}) on the library's threads: keep it short, never
        call this Gateway from it; put the event on a queue.Queue."""
        with self._calls:
            if fn is None:
                _check(self._lib, self._lib.cwd_gateway_set_event_callback(self._gw, EVENT_FN(), None))  # NULL
                return

            def on_event(_user_data, event_json):
                try:
                    fn(json.loads(event_json))
                except BaseException as e:  # noqa: BLE001 (nothing may cross into C)
                    print("cwd_gateway: the event callback raised %r" % (e,), file=sys.stderr)

            callback = EVENT_FN(on_event)
            _check(self._lib, self._lib.cwd_gateway_set_event_callback(self._gw, callback, None))
            # Every callback object set stays referenced until close(): the library may
            # still be calling a replaced one on another thread.
            self._event_fn = (callback, self._event_fn)

    def start_timer(self):
        """Starts the timer on a thread of the library's own."""
        with self._calls:
            _check(self._lib, self._lib.cwd_gateway_start_timer(self._gw))

    def stop_timer(self):
        """Stops the timer and waits for the tick in progress."""
        with self._calls:
            _check(self._lib, self._lib.cwd_gateway_stop_timer(self._gw))

    def close(self):
        """Stops the timer and frees the gateway once the calls in progress end."""
        if self._gw is not None and self._calls.close():
            self._lib.cwd_gateway_free(self._gw)
            self._gw = None
            self._event_fn = self._store_fn = self._store = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_gw", None) is not None:
            self.close()


class Devnet:
    """An in-process simulated CrowdWiz chain (cwd_devnet) for examples and tests.

    options: {"block_ms", "irreversible_lag", "seed", "accounts": {"name": CWD}}.
    .info: {"url", "ws_url", "chain_id", "accounts": {"name": {"id", "active_wif", "memo_wif", ...}}}.
    """

    def __init__(self, options=None, lib_path=None):
        self._lib = load(lib_path)
        self._calls = _InFlight()
        devnet, info = c_void_p(), c_void_p()
        status = self._lib.cwd_devnet_start(_text(json.dumps(options or {})), ctypes.byref(devnet), ctypes.byref(info))
        self.info = json.loads(_check(self._lib, status, info))
        self._devnet = devnet

    def control(self, method, params=None):
        """The devnet's control API ("transfer", "messages", "balance", ...): its result."""
        with self._calls:
            out = c_void_p()
            status = self._lib.cwd_devnet_control(self._devnet, _text(method), _text(json.dumps(params or {})), ctypes.byref(out))
            return json.loads(_check(self._lib, status, out))

    def close(self):
        if getattr(self, "_devnet", None) is not None and self._calls.close():
            self._lib.cwd_devnet_free(self._devnet)
            self._devnet = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()
