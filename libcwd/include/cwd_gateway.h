/*
 * libcwd_gateway: the CrowdWiz gateway for any game engine, through a C ABI.
 *
 * The library is the reference host (the same one `cwd-gateway run` is): the gateway
 * component in wasmtime, its store (SQLite, PostgreSQL, or the game's own through
 * callbacks), the node connection, the timer and the events. Every gateway function is
 * called by name with JSON arguments and answers JSON: the same names, shapes and error
 * codes as the HTTP API (docs/http-api.md, GET /openapi.json), without HTTP.
 *
 * Rules (libcwd/README.md says more):
 *  - Every function returns a cwd_status; CWD_OK is 0. On any other status the text
 *    output, when the function has one, holds a JSON error
 *    {"error": {"code": "...", "message": "..."}}; for CWD_ERR_GATEWAY it is the HTTP
 *    API's error body with its HTTP status beside "error":
 *    {"error": {"code": "insufficient-balance", ...}, "status": 422}. Functions without
 *    a text output (set_event_callback, start_timer, stop_timer) return the status only.
 *  - Every char* the library hands out is UTF-8, NUL-terminated, owned by the caller, and
 *    freed with cwd_string_free (never free()). Every char* the caller passes in is
 *    UTF-8, NUL-terminated, and only borrowed for the duration of the call.
 *  - A gateway handle may be used from any number of threads at once; calls run in
 *    parallel on the gateway's instances (`[runtime] api_instances`). There is no
 *    global state: several gateways may live in one process.
 *  - A panic inside the library never crosses this boundary: it becomes CWD_ERR_PANIC
 *    and the handle stays usable.
 *  - Callbacks (events, store) are called from the library's threads. They must not
 *    call cwd_gateway_* on the same gateway (queue the work for your own thread).
 */
#ifndef CWD_GATEWAY_H
#define CWD_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int32_t cwd_status;

#define CWD_OK 0
/* A null pointer, text that is not UTF-8 or not JSON, an unknown function name. */
#define CWD_ERR_INVALID_ARGUMENT 1
/* The configuration or the keys were refused (the message says what to change). */
#define CWD_ERR_CONFIG 2
/* The gateway answered an error: *out is the HTTP API's error body, with "status". */
#define CWD_ERR_GATEWAY 3
/* The host failed (no node reachable at start, the store could not be opened, ...). */
#define CWD_ERR_HOST 4
/* A bug in the library, caught at the boundary; the handle stays usable. */
#define CWD_ERR_PANIC 5

typedef struct cwd_gateway cwd_gateway;
typedef struct cwd_devnet cwd_devnet;
/* Where a store callback puts its answer (copied by cwd_buffer_set). */
typedef struct cwd_buffer cwd_buffer;

/* The library's version and the SHA-256 of the component inside, as
 * `cwd-gateway --version` prints them. Static: do not free. */
const char *cwd_version(void);

/* Frees a string the library returned. NULL is ignored. */
void cwd_string_free(char *s);

/*
 * Events: called once per event after the commit that made it, with the event as JSON
 * ({"type": "deposit-credited", ...fields}, as the HTTP API's webhook body's "event"),
 * from the thread that committed it. `event_json` is borrowed for the call only.
 * Events before a callback is set are not replayed here: the feed has them all
 * ("list-events" with a cursor), in order, after any restart.
 */
typedef void (*cwd_event_fn)(void *user_data, const char *event_json);

/*
 * A store the game supplies instead of SQLite or PostgreSQL: one callback that receives
 * each operation as JSON and answers it with cwd_buffer_set(response, json, len); it
 * returns 0 when it answered, anything else when the store could not answer (the
 * response, if set, is the reason). The semantics are the WIT `store` interface's
 * (wit/store.wit); values travel as base64.
 *
 *   {"op": "get", "key": K}
 *       -> {"entry": null} or {"entry": {"key": K, "value": B64, "version": N}}
 *   {"op": "scan", "prefix": P, "start_after": K or null, "limit": N}
 *       -> {"entries": [entry, ...]}  ascending by key bytes, keys starting with P,
 *          after start_after, at most limit
 *   {"op": "scan_reverse", "prefix": P, "start_before": K or null, "limit": N}
 *       -> {"entries": [entry, ...]}  the same, descending, before start_before
 *   {"op": "commit", "preconditions": [{"key": K, "expected_version": N or null}],
 *                    "writes": [{"key": K, "value": B64 or null}]}
 *       -> {"outcome": "committed"} or {"outcome": "conflict"}
 *          all writes or none, only if every key has the expected version (null: absent);
 *          each write gives its key a version above any the key ever had; null deletes;
 *          durable when it answers.
 *
 * A callback that fails, answers nonsense or raises gives the call in progress a
 * store-unavailable error; the next call asks it again.
 */
typedef int32_t (*cwd_store_fn)(void *user_data, const char *request_json, cwd_buffer *response);

/* cwd_gateway_new copies this struct; `user_data` must stay valid, and `call` callable
 * from any thread, until cwd_gateway_free. */
typedef struct cwd_store {
    cwd_store_fn call;
    void *user_data;
} cwd_store;

/* Copies `len` bytes of `data` as the store callback's answer. */
void cwd_buffer_set(cwd_buffer *response, const char *data, size_t len);

/*
 * Creates a gateway from a configuration (TOML, the same settings as
 * `cwd-gateway run`'s file; [http], [cabinet] and [console] are ignored) and checks it
 * against the chain: the nodes' chain id, the account, that the keys are its keys.
 * `keys_toml` ("active_wif = ...\nmemo_wif = ...") may be NULL: then [keys] file or the
 * CWD_GATEWAY_ACTIVE_WIF / CWD_GATEWAY_MEMO_WIF environment variables. `store` may be
 * NULL: then [store] (SQLite, or PostgreSQL with [store] url). The timer does not run
 * until cwd_gateway_start_timer. On failure *error is a JSON error (free it).
 */
cwd_status cwd_gateway_new(const char *config_toml, const char *keys_toml, const cwd_store *store,
                           cwd_gateway **out, char **error);

/*
 * Calls the gateway function `function` ("adjust-balance", "start-link", ... the names
 * below) with its arguments as a JSON object, and sets *out to its answer (JSON) or to
 * the error. The caller has every role (game, operator): the embedding game server is
 * the trust root; operator actions are audited with the actor "library".
 */
cwd_status cwd_gateway_call(cwd_gateway *gw, const char *function, const char *args_json, char **out);

/* Sets (or, with NULL, clears) the event callback. An event being delivered while it
 * changes may still reach the previous callback: keep every callback and its user_data
 * valid until cwd_gateway_free. */
cwd_status cwd_gateway_set_event_callback(cwd_gateway *gw, cwd_event_fn callback, void *user_data);

/* Starts the timer on a thread of the library's own (ticks at the component's pace,
 * at once when the irreversible block moves); a second start does nothing. */
cwd_status cwd_gateway_start_timer(cwd_gateway *gw);

/* Stops the timer and waits for the tick in progress. */
cwd_status cwd_gateway_stop_timer(cwd_gateway *gw);

/* Stops the timer and frees the gateway. No call may be in progress on it. NULL is
 * ignored. */
void cwd_gateway_free(cwd_gateway *gw);

/*
 * A local simulated CrowdWiz chain for examples and tests (the same one as
 * `cwd-gateway devnet`), serving JSON-RPC over HTTP and WebSocket on loopback.
 * `options_json`: {"block_ms": 1000, "irreversible_lag": 5, "seed": "...",
 * "accounts": {"name": CWD, ...}} (all optional; CWD in whole units).
 * *info: {"url": ..., "ws_url": ..., "chain_id": ..., "accounts": {"name": {"id",
 * "active_wif", "memo_wif", ...}}}: throwaway keys, never use them elsewhere.
 */
cwd_status cwd_devnet_start(const char *options_json, cwd_devnet **out, char **info);

/* The devnet's control API (devnet/README.md): "transfer", "messages", "balance",
 * "produce_block", ... with its params as JSON; *out is the result or an error. */
cwd_status cwd_devnet_control(cwd_devnet *devnet, const char *method, const char *params_json, char **out);

/* Stops and frees the devnet. NULL is ignored. */
void cwd_devnet_free(cwd_devnet *devnet);

/* The gateway functions cwd_gateway_call takes: the HTTP API's calls (POST /v1/<name>),
 * as an X-macro: #define X(ident, name) ... then CWD_FUNCTIONS. A test checks this list
 * against the OpenAPI document. */
#define CWD_FUNCTIONS \
    X(account, "account") \
    X(acknowledge_unknown_payout, "acknowledge-unknown-payout") \
    X(adjust_balance, "adjust-balance") \
    X(approve_withdrawal, "approve-withdrawal") \
    X(assign_unclaimed, "assign-unclaimed") \
    X(cancel_withdrawal, "cancel-withdrawal") \
    X(confirm_link, "confirm-link") \
    X(deposit_instructions, "deposit-instructions") \
    X(feed_position, "feed-position") \
    X(get_settings, "get-settings") \
    X(get_withdrawal, "get-withdrawal") \
    X(link_challenge, "link-challenge") \
    X(list_audit, "list-audit") \
    X(list_deposits, "list-deposits") \
    X(list_events, "list-events") \
    X(list_movements, "list-movements") \
    X(list_referrals, "list-referrals") \
    X(list_sweeps, "list-sweeps") \
    X(list_transfers, "list-transfers") \
    X(list_unclaimed, "list-unclaimed") \
    X(list_unknown_payouts, "list-unknown-payouts") \
    X(list_webhook_deliveries, "list-webhook-deliveries") \
    X(list_withdrawals, "list-withdrawals") \
    X(quote_deposit, "quote-deposit") \
    X(quote_withdrawal, "quote-withdrawal") \
    X(reconcile, "reconcile") \
    X(redeliver_event, "redeliver-event") \
    X(referral_earnings, "referral-earnings") \
    X(refund_unclaimed, "refund-unclaimed") \
    X(reject_withdrawal, "reject-withdrawal") \
    X(request_withdrawal, "request-withdrawal") \
    X(revoke_cabinet_sessions, "revoke-cabinet-sessions") \
    X(reward_referrers, "reward-referrers") \
    X(set_language, "set-language") \
    X(set_referrer, "set-referrer") \
    X(start_link, "start-link") \
    X(start_memo_link, "start-memo-link") \
    X(statement, "statement") \
    X(status, "status") \
    X(tick, "tick") \
    X(transfer_internal, "transfer-internal") \
    X(unlink, "unlink") \
    X(update_settings, "update-settings") \
    X(whoami, "whoami")

#ifdef __cplusplus
}
#endif

#endif /* CWD_GATEWAY_H */
