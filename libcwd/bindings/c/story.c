/*
 * The whole story through the C ABI, as a C or C++ game server (Unreal, Godot, a custom
 * engine) would embed the gateway: a local devnet, a gateway on it, a player who links
 * their account, deposits (seen through the event callback), plays and withdraws.
 *
 *   cc -I../../include story.c -L<dir of libcwd_gateway.so> -lcwd_gateway -lpthread
 *
 * The JSON answers are read with a few lines of string search to stay self-contained;
 * a real server would use its JSON library.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cwd_gateway.h"

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "story failed: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

/* The text value of "key" in `json` at or after `from` (a copy; free it), or NULL. */
static char *text_field(const char *json, const char *key) {
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *at = strstr(json, pattern);
    if (!at) return NULL;
    at += strlen(pattern);
    const char *end = strchr(at, '"');
    if (!end) return NULL;
    char *out = malloc((size_t)(end - at) + 1);
    memcpy(out, at, (size_t)(end - at));
    out[end - at] = 0;
    return out;
}

/* The number value of "key" in `json`, or -1. */
static long long number_field(const char *json, const char *key) {
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *at = strstr(json, pattern);
    return at ? atoll(at + strlen(pattern)) : -1;
}

/* The "amount" of a devnet answer (a number, or a decimal string for 64-bit values). */
static long long amount_of(const char *json) {
    const char *at = strstr(json, "\"amount\":");
    if (!at) fail("no amount in", json);
    at += strlen("\"amount\":");
    if (*at == '"') at++;
    return atoll(at);
}

/* Calls `function`; exits with the error unless it answers. Returns the answer (free it). */
static char *call(cwd_gateway *gw, const char *function, const char *args) {
    char *out = NULL;
    cwd_status status = cwd_gateway_call(gw, function, args, &out);
    if (status != CWD_OK) fail(function, out);
    return out;
}

static char *control(cwd_devnet *devnet, const char *method, const char *params) {
    char *out = NULL;
    if (cwd_devnet_control(devnet, method, params, &out) != CWD_OK) fail(method, out);
    return out;
}

/* Events: the callback only queues them (it must not call the gateway). */
#define MAX_EVENTS 256
static struct {
    pthread_mutex_t lock;
    pthread_cond_t more;
    char *items[MAX_EVENTS];
    int count;
} events = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0};

static void on_event(void *user_data, const char *event_json) {
    (void)user_data;
    pthread_mutex_lock(&events.lock);
    if (events.count < MAX_EVENTS) events.items[events.count++] = strdup(event_json);
    pthread_cond_broadcast(&events.more);
    pthread_mutex_unlock(&events.lock);
}

/* The first event of `type` containing `needle` (NULL: any), waiting up to 60 s. */
static char *wait_event(const char *type, const char *needle) {
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"type\":\"%s\"", type);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 60;
    pthread_mutex_lock(&events.lock);
    for (int seen = 0;;) {
        for (; seen < events.count; seen++) {
            char *e = events.items[seen];
            if (strstr(e, pattern) && (!needle || strstr(e, needle))) {
                pthread_mutex_unlock(&events.lock);
                return e;
            }
        }
        if (pthread_cond_timedwait(&events.more, &events.lock, &deadline) != 0) {
            pthread_mutex_unlock(&events.lock);
            fail("no event within 60 s", type);
        }
    }
}

int main(void) {
    printf("libcwd_gateway %s\n", cwd_version());
    cwd_devnet *devnet = NULL;
    char *info = NULL;
    if (cwd_devnet_start("{\"block_ms\": 200, \"irreversible_lag\": 2, "
                         "\"accounts\": {\"game-gateway\": 1000, \"alice-cwd\": 500}}",
                         &devnet, &info) != CWD_OK)
        fail("cwd_devnet_start", info);
    char *url = text_field(info, "url"), *chain_id = text_field(info, "chain_id");
    const char *gateway_json = strstr(info, "\"game-gateway\":{"), *alice_json = strstr(info, "\"alice-cwd\":{");
    if (!url || !chain_id || !gateway_json || !alice_json) fail("the devnet's info", info);
    char *gw_active = text_field(gateway_json, "active_wif"), *gw_memo = text_field(gateway_json, "memo_wif");
    char *alice_active = text_field(alice_json, "active_wif"), *alice_memo = text_field(alice_json, "memo_wif");
    printf("devnet at %s\n", url);

    char db[] = "/tmp/cwd-story-c-XXXXXX";
    int fd = mkstemp(db);
    if (fd < 0) fail("a temporary database", NULL);
    close(fd);
    char config[2048], keys[512];
    snprintf(config, sizeof config,
             "[gateway]\naccount = \"game-gateway\"\nchain_id = \"%s\"\ntick_interval_ms = 200\n"
             "[node]\nurls = [\"%s\"]\n"
             "[rates]\ndeposit = { game_units = 90, per_cwd_units = 100000 }\n"
             "withdrawal = { game_units = 100, per_cwd_units = 100000 }\n"
             "[store]\npath = \"%s\"\n[link]\npow_bits = 0\n",
             chain_id, url, db);
    snprintf(keys, sizeof keys, "active_wif = \"%s\"\nmemo_wif = \"%s\"\n", gw_active, gw_memo);

    cwd_gateway *gw = NULL;
    char *error = NULL;
    if (cwd_gateway_new(config, keys, NULL, &gw, &error) != CWD_OK) fail("cwd_gateway_new", error);
    cwd_gateway_set_event_callback(gw, on_event, NULL);
    cwd_gateway_start_timer(gw);

    /* Link: the code arrives in alice's wallet, encrypted to her memo key. */
    char *started = call(gw, "start-link", "{\"user\": \"alice\", \"account\": \"alice-cwd\"}");
    long long digits = number_field(started, "code_digits");
    cwd_string_free(started);
    char code[32] = {0}, params[512];
    snprintf(params, sizeof params, "{\"account\": \"alice-cwd\", \"memo_wif\": \"%s\"}", alice_memo);
    for (int tries = 0; !code[0] && tries < 300; tries++) {
        char *inbox = control(devnet, "messages", params);
        for (const char *p = inbox; *p && !code[0]; p++) {
            size_t run = strspn(p, "0123456789");
            if ((long long)run == digits) memcpy(code, p, run);
            if (run) p += run - 1;
        }
        cwd_string_free(inbox);
        if (!code[0]) usleep(100000);
    }
    if (!code[0]) fail("the link code never arrived", NULL);
    char args[512];
    snprintf(args, sizeof args, "{\"user\": \"alice\", \"code\": \"%s\"}", code);
    cwd_string_free(call(gw, "confirm-link", args));
    printf("alice linked alice-cwd\n");

    /* Deposit 10 CWD: credited once the block is irreversible, announced by an event. */
    snprintf(params, sizeof params, "{\"from\": \"alice-cwd\", \"to\": \"game-gateway\", \"amount\": 1000000, \"active_wif\": \"%s\"}", alice_active);
    cwd_string_free(control(devnet, "transfer", params));
    char *credited = wait_event("deposit-credited", "\"user\":\"alice\"");
    long long game = number_field(credited, "game");
    printf("deposit credited: %s\n", credited);
    if (game != 900) fail("10 CWD at 90 game units per CWD is 900", credited);

    char *adjusted = call(gw, "adjust-balance", "{\"user\": \"alice\", \"delta\": 150, \"idempotency_key\": \"round-1\", \"reason\": \"won a round\"}");
    cwd_string_free(adjusted);
    char *account = call(gw, "account", "{\"user\": \"alice\"}");
    if (number_field(account, "balance") != 1050) fail("balance after the round", account);
    cwd_string_free(account);

    /* Withdraw 500 game units = 5 CWD, paid once. */
    snprintf(params, sizeof params, "{\"account\": \"alice-cwd\"}");
    char *before = control(devnet, "balance", params);
    long long cwd_before = amount_of(before);
    char *requested = call(gw, "request-withdrawal", "{\"user\": \"alice\", \"game\": 500, \"idempotency_key\": \"out-1\"}");
    char *id = text_field(requested, "withdrawal_id");
    char needle[96];
    snprintf(needle, sizeof needle, "\"withdrawal_id\":\"%s\"", id);
    printf("withdrawal paid: %s\n", wait_event("withdrawal-confirmed", needle));
    char *again = call(gw, "request-withdrawal", "{\"user\": \"alice\", \"game\": 500, \"idempotency_key\": \"out-1\"}");
    char *same = text_field(again, "withdrawal_id");
    if (strcmp(same, id) != 0) fail("the same request twice is one withdrawal", again);
    char *after = control(devnet, "balance", params);
    long long cwd_after = amount_of(after);
    if (cwd_after - cwd_before != 500000) fail("alice received exactly 5 CWD", after);
    account = call(gw, "account", "{\"user\": \"alice\"}");
    if (number_field(account, "balance") != 550) fail("balance after the withdrawal", account);
    printf("alice: %s\n", account);

    cwd_gateway_stop_timer(gw);
    cwd_gateway_free(gw);
    cwd_devnet_free(devnet);
    unlink(db);
    printf("the C story: ok\n");
    return 0;
}
