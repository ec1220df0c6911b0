// The player's cabinet: plain DOM, no build step. Every call goes to the host's
// /cabinet/api/<call> with the session token the game put in the link's #fragment (a
// fragment never reaches a server log). Values are only ever set as text.
"use strict";

const CWD_UNITS = 100000n;
const FINAL_STATES = ["confirmed", "failed", "rejected", "cancelled"];

// ---- proof of work: the same puzzle as guest/src/pow.rs -----------------------------
// SHA-256 of the ASCII text `<challenge>:<nonce in decimal>` must start with `bits`
// zero bits; the smallest such nonce is found, as the Rust `pow::solve` does.
const CabinetPow = {
  async workHash(challenge, nonce) {
    const data = new TextEncoder().encode(challenge + ":" + String(nonce));
    return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  },
  leadingZeroBits(d) {
    let n = 0;
    for (const b of d) {
      if (b === 0) { n += 8; continue; }
      return n + Math.clz32(b) - 24;
    }
    return n;
  },
  async solve(challenge, bits, onProgress) {
    for (let nonce = 0; nonce <= Number.MAX_SAFE_INTEGER; nonce++) {
      if (CabinetPow.leadingZeroBits(await CabinetPow.workHash(challenge, nonce)) >= bits) return nonce;
      if (nonce % 4096 === 4095) {
        if (onProgress) onProgress(nonce + 1);
        await new Promise((r) => setTimeout(r, 0)); // let the page breathe
      }
    }
    throw new Error("no nonce found");
  },
  hex(d) { return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join(""); },
};
window.CabinetPow = CabinetPow;

// ---- amounts: integers only ----------------------------------------------------------
// "12.5" CWD → 1250000 units (1e-5 CWD); null when not a valid amount.
function parseCwd(text) {
  const m = /^\s*(\d{1,12})(?:[.,](\d{1,5}))?\s*$/.exec(text);
  if (!m) return null;
  const units = BigInt(m[1]) * CWD_UNITS + BigInt((m[2] || "").padEnd(5, "0") || "0");
  return units <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(units) : null;
}
function parseGame(text) {
  const m = /^\s*(\d{1,15})\s*$/.exec(text);
  return m ? Number(m[1]) : null;
}
function formatCwd(units) {
  const u = BigInt(units);
  return (u / CWD_UNITS).toString() + "." + (u % CWD_UNITS).toString().padStart(5, "0") + " CWD";
}
function describeRate(rate) {
  return "1 CWD = " + ((BigInt(rate.game_units) * CWD_UNITS) / BigInt(rate.per_cwd_units)).toString() + " game units";
}
window.CabinetAmounts = { parseCwd, parseGame, formatCwd };

// ---- page plumbing --------------------------------------------------------------------
const $ = (id) => document.getElementById(id);
const show = (id, on) => { $(id).hidden = !on; };
const say = (text) => { $("status").textContent = text; };
function alertText(text) { $("alert").textContent = text || ""; show("alert", !!text); }

function takeSession() {
  const m = /(?:^#|&)session=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem("cabinet-session", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem("cabinet-session") || "";
}
const session = takeSession();

class CallError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || "the cabinet could not be reached (" + status + ")");
    this.status = status; this.code = e.code || "unknown"; this.body = e;
  }
}

async function call(name, args) {
  let res;
  try {
    res = await fetch("api/" + name, {
      method: "POST",
      headers: { "Authorization": "Bearer " + session, "Content-Type": "application/json" },
      body: JSON.stringify(args || {}),
      cache: "no-store",
    });
  } catch (e) {
    throw new CallError(0, { error: { code: "offline", message: "the cabinet could not be reached; check your connection" } });
  }
  let body = null;
  try { body = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) {
    const err = new CallError(res.status, body);
    if (res.status === 401) endSession(err.message);
    throw err;
  }
  return body;
}

// Ends this session on the gateway (every host refuses the token from now on), then here.
async function signOut() {
  try { await call("sign-out"); } catch (e) { if (e.status !== 401) { alertText(e.message); return; } }
  sessionStorage.removeItem("cabinet-session");
  endSession("You signed out. Open the cabinet again from the game.");
}

function endSession(message) {
  show("sign-out", false);
  show("who", false);
  for (const id of ["link-panel", "balance-panel", "topup-panel", "withdraw-panel", "history-panel"]) show(id, false);
  $("session-error").textContent = message;
  show("session-panel", true);
  say("");
  stopPolling();
}

// ---- state ------------------------------------------------------------------------
let me = null;
let live = false; // the long poll on the account's revision is running
let watch = null; // polls the withdrawal being followed to a final state
let watched = null;
const HISTORY_PAGE = 20; // the host's page size for the cabinet's listings
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function stopPolling() {
  live = false;
  if (watch) { clearInterval(watch); watch = null; }
}

async function refresh() {
  try {
    me = await call("me");
  } catch (e) {
    if (e.status !== 401) alertText(e.message);
    return;
  }
  $("who").textContent = "Signed in by the game as " + me.user;
  show("who", true);
  show("sign-out", true);
  const linked = me.account.linked;
  show("link-panel", !linked);
  for (const id of ["balance-panel", "topup-panel", "withdraw-panel", "history-panel"]) show(id, !!linked);
  if (!live) waitForChanges();
  if (!linked) {
    const pending = me.account.pending_link;
    if (pending && $("code-form").hidden) {
      $("code-sent").textContent = "A code was sent to " + pending.account + ". " + pending.attempts_left + " attempts left.";
      show("code-form", true);
    }
    return;
  }
  $("linked-account").textContent = linked.account + " (" + linked.account_id + ")";
  $("balance").textContent = String(me.account.balance);
  $("frozen").textContent = String(me.account.frozen);
  $("deposit-from").textContent = me.deposit.from_account;
  $("deposit-to").textContent = me.deposit.gateway_account;
  $("deposit-rate").textContent = describeRate(me.deposit.rate) + ".";
  $("deposit-note").textContent = me.deposit.note;
  $("withdraw-rate").textContent = "Withdrawals: " + describeRate(me.withdrawal_rate) + ".";
  await refreshHistory();
}

// Long polling: the host answers when the account's revision moves (a deposit credited,
// a withdrawal requested, paid or returned, a link) or after 25 s; only then is
// anything re-read.
async function waitForChanges() {
  live = true;
  while (live && me) {
    try {
      const r = await call("wait", { revision: me.account.revision, wait_ms: 25000 });
      if (r.changed && live) await refresh();
    } catch (e) {
      if (e.status === 401) break;
      await sleep(3000); // offline or busy: try again shortly
    }
  }
  live = false;
}

// ---- history: both listings newest first, paged by their own cursors -----------------
// A row is shown only when no unloaded row of the other list can be newer, so the
// merged order is right page after page.
let ledger = null; // the loaded pages of both listings

function listOf(rows) { return { rows, cursor: null, more: true }; }

async function loadPage(kind, list) {
  const args = list.cursor ? { start_after: list.cursor } : {};
  const page = await call(kind, args);
  list.rows = list.rows.concat(page);
  list.more = page.length === HISTORY_PAGE;
  if (page.length) list.cursor = kind === "deposits" ? page[page.length - 1].deposit_id : page[page.length - 1].withdrawal_id;
}

async function refreshHistory() {
  const fresh = { deposits: listOf([]), withdrawals: listOf([]) };
  try {
    await Promise.all([loadPage("deposits", fresh.deposits), loadPage("withdrawals", fresh.withdrawals)]);
  } catch (e) {
    return;
  }
  ledger = fresh;
  renderHistory();
}

$("history-older").addEventListener("click", async () => {
  if (!ledger) return;
  $("history-older").disabled = true;
  try {
    await Promise.all(Object.entries(ledger).filter(([, l]) => l.more).map(([kind, l]) => loadPage(kind, l)));
    renderHistory();
  } catch (e) {
    alertText(e.message);
  } finally {
    $("history-older").disabled = false;
  }
});

function renderHistory() {
  const rows = ledger.deposits.rows.map((d) => ({
    at: d.credited_at_ms, kind: d.assigned ? "deposit (assigned)" : "deposit", id: d.deposit_id,
    game: "+" + d.game, cwd: formatCwd(d.cwd), state: "credited",
  })).concat(ledger.withdrawals.rows.map((w) => ({
    at: w.requested_at_ms, kind: "withdrawal", id: w.withdrawal_id, game: "−" + w.game, cwd: formatCwd(w.cwd), state: w.state,
  })));
  const oldestLoaded = (l, at) => (l.more && l.rows.length ? at(l.rows[l.rows.length - 1]) : -Infinity);
  const horizon = Math.max(
    oldestLoaded(ledger.deposits, (d) => d.credited_at_ms),
    oldestLoaded(ledger.withdrawals, (w) => w.requested_at_ms),
  );
  const shown = rows.filter((r) => r.at >= horizon).sort((a, b) => b.at - a.at);
  const body = $("history-rows");
  body.replaceChildren();
  for (const r of shown) {
    const tr = document.createElement("tr");
    for (const text of [new Date(r.at).toLocaleString(), r.kind, r.id, r.game, r.cwd, r.state]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    }
    tr.dataset.kind = r.kind;
    tr.dataset.state = r.state;
    body.appendChild(tr);
  }
  show("history-empty", shown.length === 0);
  show("history-older", ledger.deposits.more || ledger.withdrawals.more);
}

// A withdrawal on its way changes state without touching the balance ("sent"): the
// one being followed is looked at every 3 s until it is final.
function follow() {
  if (watch) return;
  watch = setInterval(async () => {
    if (!watched || FINAL_STATES.includes(watched.state)) { clearInterval(watch); watch = null; return; }
    try { showWithdrawal(await call("withdrawal", { withdrawal_id: watched.withdrawal_id })); } catch (e) { /* next time */ }
  }, 3000);
}

function showWithdrawal(w) {
  watched = w;
  $("w-id").textContent = w.withdrawal_id;
  $("w-amount").textContent = w.game + " game units → " + formatCwd(w.cwd);
  $("w-state").textContent = w.state + (w.note ? " (" + w.note + ")" : "");
  $("w-tx").textContent = w.tx_id ? w.tx_id + (w.block_num ? " in block " + w.block_num : "") : "not sent yet";
  $("withdrawal").dataset.state = w.state;
  show("withdrawal", true);
  if (!FINAL_STATES.includes(w.state)) follow();
}

// ---- linking ------------------------------------------------------------------------
$("link-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  alertText("");
  const account = $("account").value.trim().toLowerCase();
  if (!account) { alertText("Enter your CrowdWiz account name."); return; }
  $("link-start").disabled = true;
  try {
    const args = { account };
    const ch = await call("link-challenge");
    if (ch.difficulty_bits > 0) {
      if (!(window.crypto && crypto.subtle)) throw new Error("this page must be served over HTTPS to compute the anti-spam check");
      show("pow-progress", true);
      $("pow-progress").textContent = "Computing an anti-spam check…";
      args.challenge = ch.challenge;
      args.nonce = await CabinetPow.solve(ch.challenge, ch.difficulty_bits, (n) => {
        $("pow-progress").textContent = "Computing an anti-spam check… (" + n + " tries)";
      });
      $("pow-progress").textContent = "Anti-spam check done.";
    }
    const started = await call("start-link", args);
    $("code-sent").textContent = "A " + started.code_digits + "-digit code was sent to " + started.account +
      " in an encrypted message. Open your wallet and type it here.";
    $("code").maxLength = started.code_digits;
    show("code-form", true);
    $("code").focus();
    say("Code sent.");
  } catch (e) {
    alertText(e.message);
    if (e.code === "rate-limited") say("No more code messages for now: link by a transfer instead (below).");
  } finally {
    $("link-start").disabled = false;
  }
});

// The memo route: no code message (no fee, and strangers who spent the account's daily
// codes cannot block it). Offered always, and first when the code route is refused.
async function startMemoLink() {
  alertText("");
  $("memo-start").disabled = true;
  try {
    const m = await call("start-memo-link");
    $("memo-gateway").textContent = m.gateway_account;
    $("memo-code").textContent = m.code;
    $("memo-expires").textContent = new Date(m.expires_at_ms).toLocaleTimeString();
    show("memo-route", true);
    say("Send the transfer with the memo to link.");
  } catch (e) {
    alertText(e.message);
  } finally {
    $("memo-start").disabled = false;
  }
}
$("memo-start").addEventListener("click", startMemoLink);

$("code-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  alertText("");
  $("code-confirm").disabled = true;
  try {
    const linked = await call("confirm-link", { code: $("code").value.trim() });
    say("Linked to " + linked.account + ".");
    show("code-form", false);
    await refresh();
  } catch (e) {
    alertText(e.message);
  } finally {
    $("code-confirm").disabled = false;
  }
});

// ---- top up -------------------------------------------------------------------------
let quoteSeq = 0;
$("topup-cwd").addEventListener("input", async () => {
  const seq = ++quoteSeq;
  const text = $("topup-cwd").value;
  if (!text.trim()) { $("topup-quote").textContent = ""; return; }
  const cwd = parseCwd(text);
  if (cwd === null) { $("topup-quote").textContent = "Enter an amount like 10 or 12.5 (at most 5 decimals)."; return; }
  try {
    const q = await call("quote-deposit", { cwd });
    if (seq === quoteSeq) $("topup-quote").textContent = "Sending " + formatCwd(q.cwd) + " credits " + q.game + " game units.";
  } catch (e) {
    if (seq === quoteSeq) $("topup-quote").textContent = e.message;
  }
});
$("topup-form").addEventListener("submit", (ev) => ev.preventDefault());

// ---- withdraw -----------------------------------------------------------------------
function withdrawalAmount() {
  const unit = document.querySelector("input[name=unit]:checked").value;
  const text = $("withdraw-amount").value;
  const n = unit === "cwd" ? parseCwd(text) : parseGame(text);
  if (n === null) return null;
  return unit === "cwd" ? { cwd: n } : { game: n };
}

let withdrawQuoteSeq = 0;
async function quoteWithdrawal() {
  const seq = ++withdrawQuoteSeq;
  const out = $("withdraw-quote");
  if (!$("withdraw-amount").value.trim()) { out.textContent = ""; return; }
  const amount = withdrawalAmount();
  if (!amount) { out.textContent = "Enter a whole number of game units, or CWD with at most 5 decimals."; return; }
  try {
    const q = await call("quote-withdrawal", amount);
    if (seq === withdrawQuoteSeq) out.textContent = q.game + " game units → you receive " + formatCwd(q.cwd) + ".";
  } catch (e) {
    if (seq === withdrawQuoteSeq) out.textContent = e.message;
  }
}
$("withdraw-amount").addEventListener("input", quoteWithdrawal);
for (const r of document.querySelectorAll("input[name=unit]")) r.addEventListener("change", quoteWithdrawal);

let requestId = null; // kept until the request is answered: a retry repeats it
$("withdraw-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  alertText("");
  const amount = withdrawalAmount();
  if (!amount) { alertText("Enter a whole number of game units, or CWD with at most 5 decimals."); return; }
  if (!requestId) requestId = crypto.getRandomValues(new Uint32Array(4)).join("-");
  $("withdraw-submit").disabled = true;
  try {
    const w = await call("request-withdrawal", Object.assign({ request_id: requestId }, amount));
    requestId = null;
    showWithdrawal(w);
    say("Withdrawal " + w.withdrawal_id + " requested.");
    $("withdraw-amount").value = "";
    $("withdraw-quote").textContent = "";
    await refresh();
  } catch (e) {
    if (e.status >= 400 && e.status < 500) requestId = null; // refused: a new request next time
    alertText(e.message);
  } finally {
    $("withdraw-submit").disabled = false;
  }
});

// ---- start ----------------------------------------------------------------------------
$("sign-out").addEventListener("click", signOut);
if (!session) endSession("No session: open the cabinet from the game, which adds your session to the link.");
else refresh();
