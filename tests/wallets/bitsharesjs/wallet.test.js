// The web wallet's library as a player (issue 28): bitsharesjs and bitsharesjs-ws from npm,
// the code CrowdWiz's web wallet (a bitshares-ui fork) runs, against `cwd-gateway devnet`
// over WebSocket and a real `cwd-gateway run` on it. The player opens their account
// (ChainStore), reads and decrypts the gateway's link message from their history, tops up
// with a transfer carrying a memo built and signed as the wallet does it
// (TransactionBuilder: fees from get_required_fees, keys from get_potential_signatures
// and get_required_signatures, broadcast_transaction_with_callback and its callback),
// sees the gateway credit it, withdraws, and sees the payout arrive once and decrypts its
// memo.
//
//   CWD_GATEWAY_BIN=$PWD/target/debug/cwd-gateway node --test   (in this directory)
//
// No shim: bitsharesjs 6 runs as it is on Node 20 (its `ws` and Node's crypto). The one
// thing set here is the chain's entry in ChainConfig.networks, the address prefix CWD for
// CrowdWiz's chain id, which the CrowdWiz wallet's build carries and the npm package does
// not.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");

const { Apis, ChainConfig } = require("bitsharesjs-ws");
const { ChainStore, FetchChain, TransactionBuilder, TransactionHelper, PrivateKey, PublicKey, Aes } = require("bitsharesjs");

const BIN = process.env.CWD_GATEWAY_BIN;
const TOKEN = "wallet-test-token-0123456789abcdef";
const GATEWAY = "crowdwiz-gateway";
const PLAYER = "alice-cwd";
const USER = "player-1";
const CWD = 100000; // units of 1e-5 CWD
// The gateway's rates (game units per 100000 CWD units), as in the README's example.
const DEPOSIT_RATE = { game_units: 90, per_cwd_units: 100000 };
const WITHDRAWAL_RATE = { game_units: 100, per_cwd_units: 100000 };

const children = [];
let tmp;

function stop() {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
}
process.on("exit", stop);

function sleep(ms) {
    return new Promise(r => setTimeout(r, ms));
}

/** Polls `check` until it returns something other than undefined/null/false. */
async function eventually(what, check, timeoutMs = 30000) {
    const end = Date.now() + timeoutMs;
    let last;
    for (;;) {
        try {
            const v = await check();
            if (v !== undefined && v !== null && v !== false) return v;
        } catch (e) {
            last = e;
        }
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
        await sleep(150);
    }
}

function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.once("error", reject);
        s.listen(0, "127.0.0.1", () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

/** `cwd-gateway devnet …` through the npm package's own helper (`@crowdwiz/gateway/devnet`). */
async function startDevnet() {
    const { startDevnet: start } = await import("../../../js/src/devnet.js");
    const devnet = await start({ bin: BIN, args: ["--block-seconds", "1", "--lag", "2"],
        accounts: [`${GATEWAY}:1000`, `${PLAYER}:500`] });
    children.push({ exitCode: null, kill: devnet.stop });
    return { ...devnet, ws: devnet.url.replace(/^http:/, "ws:") };
}

function writePrivate(file, text) {
    fs.writeFileSync(file, text, { mode: 0o600 });
    fs.chmodSync(file, 0o600);
}

/** `cwd-gateway run` against the devnet, its HTTP API on `port` (README "Running a gateway"). */
async function startGateway(devnet, port) {
    const gw = devnet.accounts[GATEWAY];
    writePrivate(path.join(tmp, "keys.toml"), `active_wif = "${gw.active_wif}"\nmemo_wif = "${gw.memo_wif}"\n`);
    writePrivate(path.join(tmp, "api-token"), `${TOKEN}\n`);
    const config = `[gateway]
account = "${GATEWAY}"
chain_id = "${devnet.chainId}"
tick_interval_ms = 500
[node]
urls = ["${devnet.url}"]
timeout_ms = 5000
[rates]
deposit = { game_units = ${DEPOSIT_RATE.game_units}, per_cwd_units = ${DEPOSIT_RATE.per_cwd_units} }
withdrawal = { game_units = ${WITHDRAWAL_RATE.game_units}, per_cwd_units = ${WITHDRAWAL_RATE.per_cwd_units} }
[link]
pow_bits = 0
[withdrawals]
min_cwd = 100000
[store]
path = "${path.join(tmp, "gateway.db")}"
[http]
listen = "127.0.0.1:${port}"
token_file = "${path.join(tmp, "api-token")}"
[keys]
file = "${path.join(tmp, "keys.toml")}"
`;
    fs.writeFileSync(path.join(tmp, "gateway.toml"), config);
    const log = fs.openSync(path.join(tmp, "gateway.log"), "w");
    const child = spawn(BIN, ["run", "--config", path.join(tmp, "gateway.toml")], { stdio: ["ignore", log, log] });
    children.push(child);
    child.once("exit", code => {
        if (code !== null && code !== 0) console.error(fs.readFileSync(path.join(tmp, "gateway.log"), "utf8"));
    });
    await eventually("the gateway to be ready", async () => {
        if (child.exitCode !== null) throw new Error(`cwd-gateway run exited (${child.exitCode})`);
        const r = await fetch(`http://127.0.0.1:${port}/ready`);
        return r.status === 200;
    }, 90000);
}

/** `POST /v1/<name>` (docs/http-api.md). */
async function api(port, name, args) {
    const r = await fetch(`http://127.0.0.1:${port}/v1/${name}`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify(args),
    });
    const body = await r.json();
    if (r.status !== 200) throw new Error(`${name}: ${r.status} ${JSON.stringify(body)}`);
    return body;
}

/** The account as the wallet's ChainStore holds it (filled and kept current by notices). */
function chainAccount(name) {
    const a = ChainStore.getAccount(name);
    return a && a.get("balances") ? a : undefined;
}

/** CWD balance from the account's 2.5.N balance object in ChainStore. */
function chainBalance(name) {
    const a = chainAccount(name);
    return a ? Number(ChainStore.getAccountBalance(a, "1.3.0")) : undefined;
}

/** The account's history in ChainStore (newest first), as plain objects. */
function chainHistory(name) {
    const a = chainAccount(name);
    const h = a && a.get("history");
    return h ? h.toJS() : [];
}

/** Decrypts a memo the way the wallet does (PrivateKeyStore.decodeMemo). */
function decodeMemo(memo, memoKey) {
    const mine = memoKey.toPublicKey().toPublicKeyString();
    const other = memo.to === mine ? memo.from : memo.to;
    return Aes.decrypt_with_checksum(memoKey, PublicKey.fromPublicKeyString(other), memo.nonce, memo.message).toString("utf-8");
}

test("bitsharesjs as a player: link, top up, withdraw", { timeout: 150000 }, async t => {
    assert.ok(BIN, "set CWD_GATEWAY_BIN to a built cwd-gateway (cargo build -p cwd-gateway)");
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cwd-bitsharesjs-"));
    t.after(async () => {
        await Apis.close().catch(() => {});
        stop();
        fs.rmSync(tmp, { recursive: true, force: true });
    });
    const devnet = await startDevnet();
    const port = await freePort();
    // The gateway starts while the wallet connects (awaited before the first API call).
    const gatewayReady = startGateway(devnet, port);
    gatewayReady.catch(() => {});
    const player = devnet.accounts[PLAYER];
    // ---- connect and sync, as the web wallet does (routerTransition: Apis, then
    // ChainStore.resetCache(false), which subscribes with notify_remove_create false).
    ChainConfig.networks.CrowdWiz = { core_asset: "CWD", address_prefix: "CWD", chain_id: devnet.chainId };
    await Apis.instance(devnet.ws, true).init_promise;
    assert.equal(Apis.instance().chain_id, devnet.chainId);
    assert.equal(ChainConfig.address_prefix, "CWD");
    await ChainStore.init(false);
    const activeKey = PrivateKey.fromWif(player.active_wif);
    const memoKey = PrivateKey.fromWif(player.memo_wif);
    // The wallet's private key store: public key string (CWD…) → private key.
    const wallet = new Map([activeKey, memoKey, PrivateKey.fromWif(player.owner_wif)].map(k => [k.toPublicKey().toPublicKeyString(), k]));

    // ---- open the account: from the wallet's key (get_key_references), by name
    // (get_full_accounts with subscription, then its balance objects by id).
    const refs = await FetchChain("getAccountRefsOfKey", activeKey.toPublicKey().toPublicKeyString());
    assert.deepEqual(refs.toJS(), [player.id]);
    const [byName] = await Apis.instance().db_api().exec("lookup_account_names", [[PLAYER]]);
    assert.equal(byName.id, player.id);
    assert.equal((await Apis.instance().db_api().exec("get_account_by_name", [GATEWAY])).id, devnet.accounts[GATEWAY].id);
    await eventually("alice's account in ChainStore", () => chainAccount(PLAYER));
    await eventually("the gateway's account in ChainStore", () => chainAccount(GATEWAY));
    assert.equal(chainBalance(PLAYER), 500 * CWD);
    const [named] = await Apis.instance().db_api().exec("get_named_account_balances", [PLAYER, ["1.3.0"]]);
    assert.deepEqual(named, { amount: 500 * CWD, asset_id: "1.3.0" });

    await gatewayReady;

    // ---- link: the gateway sends a code in an encrypted send_message (op 61); it reaches
    // the wallet's history through the subscription (statistics notice → history fetch).
    const started = await api(port, "start-link", { user: USER, account: PLAYER });
    assert.equal(started.account, PLAYER);
    const gatewayId = devnet.accounts[GATEWAY].id;
    const message = await eventually("the link message in alice's history", () =>
        chainHistory(PLAYER).find(h => h.op[0] === 61 && h.op[1].from === gatewayId));
    const text = decodeMemo(message.op[1].memo, memoKey);
    const code = (text.match(/\b(\d{4,})\b/) || [])[1];
    assert.ok(code, `a code in ${JSON.stringify(text)}`);
    assert.equal(code.length, started.code_digits);
    const linked = await api(port, "confirm-link", { user: USER, code });
    assert.equal(linked.account_id, player.id);

    // ---- top up: a transfer with a memo, built, signed and broadcast as the web wallet
    // does it (AccountActions.transfer and WalletDb.process_transaction).
    const deposit = 100 * CWD;
    const gatewayAccount = chainAccount(GATEWAY);
    const toMemoKey = gatewayAccount.getIn(["options", "memo_key"]);
    const nonce = TransactionHelper.unique_nonce_uint64();
    const tr = new TransactionBuilder();
    tr.add_type_operation("transfer", {
        fee: { amount: 0, asset_id: "1.3.0" },
        from: player.id,
        to: gatewayId,
        amount: { amount: deposit, asset_id: "1.3.0" },
        memo: {
            from: memoKey.toPublicKey().toPublicKeyString(),
            to: toMemoKey,
            nonce,
            message: Aes.encrypt_with_checksum(memoKey, toMemoKey, nonce, Buffer.from(`top up ${USER}`, "utf-8")),
        },
    });
    await Promise.all([tr.set_required_fees(), tr.update_head_block()]);
    const fee = Number(tr.operations[0][1].fee.amount);
    const [quoted] = await Apis.instance().db_api().exec("get_required_fees", [[tr.serialize().operations[0]], "1.3.0"]);
    assert.ok(fee > 0);
    assert.equal(fee, Number(quoted.amount), "the fee the node quoted");
    const { pubkeys, addys } = await tr.get_potential_signatures();
    assert.deepEqual(addys, []);
    const mine = pubkeys.filter(k => wallet.has(k));
    assert.ok(mine.includes(player.active_key), `${pubkeys}`);
    const required = await tr.get_required_signatures(mine);
    assert.deepEqual(required, [player.active_key]);
    for (const k of required) tr.add_signer(wallet.get(k), k);
    let accepted = false;
    const confirmation = await tr.broadcast(() => { accepted = true; });
    assert.ok(accepted, "the broadcast was answered before the callback");
    // network_broadcast_api::on_applied_block: [{id, block_num, trx_num, trx}].
    assert.equal(confirmation.length, 1);
    const c = confirmation[0];
    assert.equal(c.id, tr.id());
    assert.ok(c.block_num > 0);
    const inBlock = await Apis.instance().db_api().exec("get_transaction", [c.block_num, c.trx_num]);
    assert.deepEqual(c.trx, inBlock);
    assert.deepEqual(c.trx.operation_results, [[0, {}]]);
    const dgp = await Apis.instance().db_api().exec("get_dynamic_global_properties", []);
    assert.ok(dgp.head_block_number >= c.block_num);
    assert.equal(dgp.id, "2.1.0");

    // ---- the gateway credits it at the deposit rate once the block is irreversible.
    const credit = Math.floor(deposit * DEPOSIT_RATE.game_units / DEPOSIT_RATE.per_cwd_units);
    assert.equal((await api(port, "quote-deposit", { cwd: deposit })).game, credit);
    const account = await eventually("the deposit credited", async () => {
        const a = await api(port, "account", { user: USER });
        return a.balance > 0 && a;
    }, 60000);
    assert.equal(account.balance, credit);
    const deposits = await api(port, "list-deposits", { user: USER });
    assert.equal(deposits.length, 1);
    assert.equal(deposits[0].cwd, deposit);
    assert.equal(deposits[0].game, credit);
    assert.equal(deposits[0].from_account_id, player.id);

    // ---- withdraw part of it; the payout arrives once, and its memo decrypts.
    const afterTopUp = await eventually("alice's balance after the top-up", () => {
        const b = chainBalance(PLAYER);
        return b === 500 * CWD - deposit - fee && b;
    });
    const game = 5000;
    const payout = Math.floor(game * WITHDRAWAL_RATE.per_cwd_units / WITHDRAWAL_RATE.game_units);
    const w = await api(port, "request-withdrawal", { user: USER, game, idempotency_key: "bitsharesjs-1" });
    assert.equal(w.cwd, payout);
    assert.equal(w.account, PLAYER);
    const paid = await eventually("the payout in alice's history", () =>
        chainHistory(PLAYER).find(h => h.op[0] === 0 && h.op[1].from === gatewayId), 60000);
    assert.equal(Number(paid.op[1].amount.amount), payout);
    assert.equal(paid.op[1].amount.asset_id, "1.3.0");
    assert.equal(decodeMemo(paid.op[1].memo, memoKey), `Withdrawal ${w.withdrawal_id} from ${GATEWAY}`);
    await eventually("alice's balance with the payout", () => chainBalance(PLAYER) === afterTopUp + payout);
    const done = await eventually("the withdrawal confirmed", async () => {
        const g = await api(port, "get-withdrawal", { withdrawal_id: w.withdrawal_id });
        return g.state === "confirmed" && g;
    }, 60000);
    assert.equal(done.block_num, paid.block_num);
    const payoutTx = await Apis.instance().db_api().exec("get_recent_transaction_by_id", [done.tx_id]);
    assert.deepEqual(payoutTx.operations[paid.op_in_trx], paid.op, "the payout is the withdrawal's transaction");
    assert.equal((await api(port, "account", { user: USER })).balance, credit - game);
    // Exactly once: a few blocks later the player's whole history (sequence numbers,
    // get_relative_account_history) holds one payout, and the balance has not moved.
    await sleep(3000);
    const history = await Apis.instance().history_api().exec("get_relative_account_history", [PLAYER, 0, 100, 0]);
    const payouts = history.filter(h => h.op[0] === 0 && h.op[1].from === gatewayId);
    assert.equal(payouts.length, 1, JSON.stringify(payouts));
    assert.equal(chainBalance(PLAYER), afterTopUp + payout);
    const [balance] = await Apis.instance().db_api().exec("get_account_balances", [player.id, ["1.3.0"]]);
    assert.equal(Number(balance.amount), afterTopUp + payout);
});
