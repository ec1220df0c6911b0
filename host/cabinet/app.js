// The player's cabinet: plain DOM, no build step. Every call goes to the host's
// /cabinet/api/<call> with the session token the game put in the link's #fragment (a
// fragment never reaches a server log). Values are only ever set as text. Every word
// shown comes from a message catalogue, i18n/<lang>.json (see "languages" below).
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
  return t("rate.describe", { game: ((BigInt(rate.game_units) * CWD_UNITS) / BigInt(rate.per_cwd_units)).toString() }, "game");
}
window.CabinetAmounts = { parseCwd, parseGame, formatCwd };

// ---- languages ----------------------------------------------------------------------
// One plain JSON catalogue per language (i18n/<lang>.json, served by the host; the list
// is i18n/languages.json). The language is ?lang=, else the one the player chose (kept
// in localStorage), else the browser's first known one, else English. Static texts are
// marked data-i18n="key" (data-i18n-slots="key" for a sentence holding elements, placed
// by their data-slot); dynamic ones come from t(key, vars), "{name}" replaced by vars.
// explicit: the player chose (the menu, or ?lang=); else the account's language, once
// known (set by another front, such as the bot), is preferred to the browser's.
const I18N = { lang: "en", messages: {}, fallback: {}, languages: [], explicit: false };

// t(key, vars, count): with count (the name of the var that is a number of something),
// the catalogue's plural form "key#one", "key#few", "key#many"… for that number in the
// catalogue's language (Intl.PluralRules' categories), else key's own text.
function t(key, vars, count) {
  const n = count === undefined || !vars ? undefined : vars[count];
  let text = pick(I18N.messages, key, n, I18N.lang);
  if (text === undefined) text = pick(I18N.fallback, key, n, "en");
  if (text === undefined) return key;
  return text.replace(/\{([a-z_]+)\}/g, (m, name) => (vars && vars[name] !== undefined && vars[name] !== null ? String(vars[name]) : m));
}

function pick(messages, key, n, lang) {
  if (messages[key] === undefined || n === undefined || n === null) return messages[key];
  const form = messages[key + "#" + pluralCategory(n, lang)];
  return form === undefined ? messages[key] : form;
}

// Amounts are integers of up to 20 digits, past a double's exact range: beyond 15 digits
// the last six decide (plus a million, so never "1"), which keeps every rule of CLDR's
// integer plurals (n mod 10, n mod 100, n = 1, whole millions).
function pluralCategory(n, lang) {
  const digits = String(n);
  if (!/^\d+$/.test(digits)) return "other";
  const value = digits.length > 15 ? 1e6 + Number(digits.slice(-6)) : Number(digits);
  try { return new Intl.PluralRules(lang).select(value); } catch (e) { return "other"; }
}

// A refusal in the player's language: the catalogue's text for a known code (with the
// error's fields; in the plural form for the field ERROR_COUNTS names), else the
// server's own message.
const ERROR_COUNTS = { "insufficient-balance": "available" };
function errorText(e) {
  const body = e.body || {};
  const vars = Object.assign({}, body);
  for (const f of ["minimum_cwd", "maximum_cwd", "remaining_cwd"]) if (typeof body[f] === "number") vars[f] = formatCwd(body[f]);
  if (e.code === "unreachable") vars.status = e.status;
  let key = "error." + e.code;
  if (e.code === "daily-limit" && body.requests_left === 0) key = "error.daily-limit-count";
  if (I18N.messages[key] !== undefined || I18N.fallback[key] !== undefined) return t(key, vars, ERROR_COUNTS[e.code]);
  return e.message;
}

async function fetchJson(path) {
  const res = await fetch(path, { cache: "no-cache" });
  if (!res.ok) throw new Error(path + ": " + res.status);
  return res.json();
}

function pickLanguage(known) {
  const has = (l) => known.some((k) => k.code === l);
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked && has(asked)) { I18N.explicit = true; return asked; }
  let stored = null;
  try { stored = localStorage.getItem("cabinet-lang"); } catch (e) { /* storage off */ }
  if (stored && has(stored)) { I18N.explicit = true; return stored; }
  for (const l of navigator.languages || [navigator.language || "en"]) {
    const base = String(l).toLowerCase().split("-")[0];
    if (has(base)) return base;
  }
  return "en";
}

function fillSlots(el, text) {
  const slots = {};
  for (const s of el.querySelectorAll("[data-slot]")) slots[s.dataset.slot] = s;
  const parts = [];
  let last = 0;
  text.replace(/\{([a-z_]+)\}/g, (m, name, at) => {
    parts.push(document.createTextNode(text.slice(last, at)));
    parts.push(slots[name] || document.createTextNode(m));
    last = at + m.length;
    return m;
  });
  parts.push(document.createTextNode(text.slice(last)));
  el.replaceChildren(...parts);
}

function applyStatic() {
  document.documentElement.lang = I18N.lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-slots]")) fillSlots(el, t(el.dataset.i18nSlots));
  document.title = t("page.title");
}

async function loadLanguage(lang) {
  const messages = await fetchJson("i18n/" + lang + ".json");
  I18N.lang = lang;
  I18N.messages = messages;
  applyStatic();
  $("lang").value = lang;
}

async function startLanguages() {
  try {
    I18N.languages = await fetchJson("i18n/languages.json");
    I18N.fallback = await fetchJson("i18n/en.json");
  } catch (e) {
    I18N.languages = [{ code: "en", name: "English" }];
  }
  const select = $("lang");
  select.replaceChildren();
  for (const l of I18N.languages) {
    const o = document.createElement("option");
    o.value = l.code;
    o.textContent = l.name;
    select.appendChild(o);
  }
  try { await loadLanguage(pickLanguage(I18N.languages)); } catch (e) { I18N.messages = I18N.fallback; applyStatic(); }
}

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
    this.status = status; this.code = e.code || "unreachable"; this.body = e;
  }
}

// A request the cabinet refused as one too many (the session's rate, or its requests in
// progress: a long poll, a followed withdrawal and a refresh at once) is made again after
// the time it says, a few times, before the player is told.
// Besides the long poll, at most two requests at once: the cabinet caps a session's
// requests in progress, and a refresh, a followed withdrawal and a click may coincide.
const MAX_CALLS = 2;
let active = 0;
const waiting = [];
function acquire() {
  if (active < MAX_CALLS) { active++; return Promise.resolve(); }
  return new Promise((r) => waiting.push(r));
}
function release() {
  const next = waiting.shift();
  if (next) next(); else active--;
}

async function call(name, args) {
  if (name === "wait") return send(name, args);
  await acquire();
  try { return await send(name, args); } finally { release(); }
}

async function send(name, args) {
  let res, body;
  for (let attempt = 0; ; attempt++) {
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
    body = null;
    try { body = await res.json(); } catch (e) { /* not JSON */ }
    const tooMany = res.status === 429 && body && body.error && body.error.code === "too-many-requests";
    if (!tooMany || attempt >= 20) break;
    await new Promise((r) => setTimeout(r, Math.min(body.error.retry_after_ms || 1000, 10000)));
  }
  if (!res.ok) {
    const err = new CallError(res.status, body);
    // Once ended (signed out), requests still in flight say nothing more.
    if (res.status === 401 && !ended) endSession(() => errorText(err));
    throw err;
  }
  return body;
}

// Ends this session on the gateway (every host refuses the token from now on), then here.
async function signOut() {
  try { await call("sign-out"); } catch (e) { if (e.status !== 401) { alertText(errorText(e)); return; } }
  sessionStorage.removeItem("cabinet-session");
  endSession(() => t("session.signed-out"));
}

// `message` gives the text, again when the player switches language.
let ended = null;
function endSession(message) {
  ended = message;
  show("sign-out", false);
  show("who", false);
  for (const id of ["link-panel", "balance-panel", "topup-panel", "withdraw-panel", "referrals-panel", "history-panel"]) show(id, false);
  $("session-error").textContent = message();
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

let meSeq = 0; // a slower, older answer never replaces a newer one
async function refresh() {
  const seq = ++meSeq;
  let fresh;
  try {
    fresh = await call("me");
  } catch (e) {
    if (e.status !== 401) alertText(errorText(e));
    return;
  }
  if (seq !== meSeq) return;
  me = fresh;
  await agreeOnLanguage();
  $("who").textContent = t("header.who", { user: me.user });
  show("who", true);
  show("sign-out", true);
  const linked = me.account.linked;
  show("link-panel", !linked);
  for (const id of ["balance-panel", "topup-panel", "withdraw-panel", "history-panel"]) show(id, !!linked);
  show("referrals-panel", true);
  if (!live) waitForChanges();
  await refreshReferrals();
  if (!linked) {
    const pending = me.account.pending_link;
    if (pending && $("code-form").hidden) {
      $("code-sent").textContent = t("link.code-pending", { account: pending.account, attempts: pending.attempts_left });
      show("code-form", true);
    }
    return;
  }
  $("linked-account").textContent = linked.account + " (" + linked.account_id + ")";
  $("balance").textContent = String(me.account.balance);
  $("frozen").textContent = String(me.account.frozen);
  $("deposit-from").textContent = me.deposit.from_account;
  $("deposit-to").textContent = me.deposit.gateway_account;
  $("deposit-rate").textContent = describeRate(me.deposit.rate);
  $("deposit-note").textContent = me.deposit.note;
  $("withdraw-rate").textContent = t("withdraw.rate", { rate: describeRate(me.withdrawal_rate) });
  await refreshHistory();
}

// The gateway writes the link message and the deposit note in the player's language:
// it is told the page's when they differ, unless the player never chose one here and
// the account has one the page knows (then the page takes it).
let toldLanguage = null;
async function agreeOnLanguage() {
  const theirs = me.account.language || "";
  if (theirs === I18N.lang) return;
  if (!I18N.explicit && theirs && I18N.languages.some((l) => l.code === theirs)) {
    try { await loadLanguage(theirs); } catch (e) { /* keep this one */ }
    return;
  }
  if (toldLanguage === I18N.lang) return;
  toldLanguage = I18N.lang;
  try {
    await call("set-language", { language: I18N.lang });
    setTimeout(refresh, 0); // the deposit note, now in this language
  } catch (e) { toldLanguage = null; }
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

let historySeq = 0; // two refreshes may overlap: only the last one started is shown
async function refreshHistory() {
  const seq = ++historySeq;
  const fresh = { deposits: listOf([]), withdrawals: listOf([]) };
  try {
    await Promise.all([loadPage("deposits", fresh.deposits), loadPage("withdrawals", fresh.withdrawals)]);
  } catch (e) {
    return;
  }
  if (seq !== historySeq) return;
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
    alertText(errorText(e));
  } finally {
    $("history-older").disabled = false;
  }
});

function renderHistory() {
  const rows = ledger.deposits.rows.map((d) => ({
    at: d.credited_at_ms, kind: "deposit", what: t(d.assigned ? "history.deposit-assigned" : "history.deposit"), id: d.deposit_id,
    game: "+" + d.game, cwd: formatCwd(d.cwd), state: "credited",
  })).concat(ledger.withdrawals.rows.map((w) => ({
    at: w.requested_at_ms, kind: "withdrawal", what: t("history.withdrawal"), id: w.withdrawal_id, game: "−" + w.game, cwd: formatCwd(w.cwd), state: w.state,
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
    for (const text of [new Date(r.at).toLocaleString(I18N.lang), r.what, r.id, r.game, r.cwd, t("state." + r.state)]) {
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
  $("w-amount").textContent = t("withdrawal.amount-value", { game: w.game, cwd: formatCwd(w.cwd) }, "game");
  // The cabinet's own reason, in the player's words; an operator's as they wrote it.
  const note = w.note === "cancelled by the player" ? t("withdrawal.by-you") : w.note;
  $("w-state").textContent = t("state." + w.state) + (note ? " (" + note + ")" : "");
  $("w-tx").textContent = w.tx_id ? (w.block_num ? t("withdrawal.in-block", { tx: w.tx_id, block: w.block_num }) : w.tx_id) : t("withdrawal.not-sent");
  $("withdrawal").dataset.state = w.state;
  show("withdrawal", true);
  // The player's own withdrawal can be cancelled until a transaction is signed for it.
  show("w-cancel", w.state === "queued" || w.state === "awaiting-review");
  if (!FINAL_STATES.includes(w.state)) follow();
}

// ---- linking ------------------------------------------------------------------------
$("link-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  alertText("");
  const account = $("account").value.trim().toLowerCase();
  if (!account) { alertText(t("link.enter-account")); return; }
  $("link-start").disabled = true;
  try {
    const args = { account };
    const ch = await call("link-challenge");
    if (ch.difficulty_bits > 0) {
      if (!(window.crypto && crypto.subtle)) throw new Error(t("link.needs-https"));
      show("pow-progress", true);
      $("pow-progress").textContent = t("link.pow-working");
      $("pow-progress").dataset.done = "";
      args.challenge = ch.challenge;
      args.nonce = await CabinetPow.solve(ch.challenge, ch.difficulty_bits, (n) => {
        $("pow-progress").textContent = t("link.pow-tries", { tries: n });
      });
      $("pow-progress").textContent = t("link.pow-done");
      $("pow-progress").dataset.done = "yes";
    }
    const started = await call("start-link", args);
    $("code-sent").textContent = t("link.code-sent", { digits: started.code_digits, account: started.account });
    $("code").maxLength = started.code_digits;
    show("code-form", true);
    $("code").focus();
    say(t("link.code-sent-status"));
  } catch (e) {
    alertText(e instanceof CallError ? errorText(e) : e.message);
    if (e.code === "rate-limited") say(t("link.use-memo"));
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
    $("memo-expires").textContent = new Date(m.expires_at_ms).toLocaleTimeString(I18N.lang);
    show("memo-route", true);
    say(t("link.memo-status"));
  } catch (e) {
    alertText(errorText(e));
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
    say(t("link.linked", { account: linked.account }));
    show("code-form", false);
    await refresh();
  } catch (e) {
    alertText(errorText(e));
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
  if (cwd === null) { $("topup-quote").textContent = t("topup.bad-amount"); return; }
  try {
    const q = await call("quote-deposit", { cwd });
    if (seq === quoteSeq) $("topup-quote").textContent = t("topup.quote", { cwd: formatCwd(q.cwd), game: q.game }, "game");
  } catch (e) {
    if (seq === quoteSeq) $("topup-quote").textContent = errorText(e);
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
  if (!amount) { out.textContent = t("withdraw.bad-amount"); return; }
  try {
    const q = await call("quote-withdrawal", amount);
    if (seq === withdrawQuoteSeq) out.textContent = t("withdraw.quote", { game: q.game, cwd: formatCwd(q.cwd) }, "game");
  } catch (e) {
    if (seq === withdrawQuoteSeq) out.textContent = errorText(e);
  }
}
$("withdraw-amount").addEventListener("input", quoteWithdrawal);
for (const r of document.querySelectorAll("input[name=unit]")) r.addEventListener("change", quoteWithdrawal);

let requestId = null; // kept until the request is answered: a retry repeats it
$("withdraw-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  alertText("");
  const amount = withdrawalAmount();
  if (!amount) { alertText(t("withdraw.bad-amount")); return; }
  if (!requestId) requestId = crypto.getRandomValues(new Uint32Array(4)).join("-");
  $("withdraw-submit").disabled = true;
  try {
    const w = await call("request-withdrawal", Object.assign({ request_id: requestId }, amount));
    requestId = null;
    showWithdrawal(w);
    say(t("withdraw.requested", { id: w.withdrawal_id }));
    $("withdraw-amount").value = "";
    $("withdraw-quote").textContent = "";
    await refresh();
  } catch (e) {
    if (e.status >= 400 && e.status < 500) requestId = null; // refused: a new request next time
    alertText(errorText(e));
  } finally {
    $("withdraw-submit").disabled = false;
  }
});

// ---- cancelling one's own withdrawal, unlinking --------------------------------------
$("w-cancel").addEventListener("click", async () => {
  if (!watched) return;
  alertText("");
  $("w-cancel").disabled = true;
  try {
    const w = await call("cancel-withdrawal", { withdrawal_id: watched.withdrawal_id });
    showWithdrawal(w);
    say(t("withdrawal.cancelled", { id: w.withdrawal_id }));
    await refresh();
  } catch (e) {
    alertText(errorText(e));
  } finally {
    $("w-cancel").disabled = false;
  }
});

// Two clicks: "Unlink this account", then "Yes, unlink".
$("unlink").addEventListener("click", () => {
  if (!me || !me.account.linked) return;
  $("unlink-question").textContent = t("balance.unlink-question", { account: me.account.linked.account });
  show("unlink-ask", true);
});
$("unlink-confirm").addEventListener("click", async () => {
  alertText("");
  $("unlink-confirm").disabled = true;
  try {
    const account = me && me.account.linked ? me.account.linked.account : "";
    await call("unlink");
    show("unlink-ask", false);
    show("withdrawal", false);
    watched = null;
    say(t("balance.unlinked", { account }));
    await refresh();
  } catch (e) {
    alertText(errorText(e));
  } finally {
    $("unlink-confirm").disabled = false;
  }
});

// ---- referrals ------------------------------------------------------------------------
let referrals = null;
let referralsSeq = 0;
async function refreshReferrals() {
  const seq = ++referralsSeq;
  let r;
  try {
    r = await call("referrals");
  } catch (e) {
    return;
  }
  if (seq !== referralsSeq) return;
  referrals = r;
  renderReferrals();
}

function renderReferrals() {
  if (!referrals) return;
  const r = referrals;
  $("ref-referrer").textContent = r.referrer || t("referrals.no-referrer");
  $("ref-count").textContent = String(r.referrals);
  $("ref-list").textContent = r.referred.length ? r.referred.map((x) => x.user).join(", ") : t("referrals.none");
  const levels = (r.by_level || []).map((amount, i) => ({ level: i + 1, amount })).filter((l) => l.amount > 0);
  $("ref-earnings").textContent = levels.length ? levels.map((l) => t("referrals.level", { level: l.level, amount: t("referrals.units", { amount: l.amount }, "amount") })).join("; ") : t("referrals.no-earnings");
  $("ref-cashback").textContent = t("referrals.units", { amount: r.cashback }, "amount");
}

// ---- start ----------------------------------------------------------------------------
$("sign-out").addEventListener("click", signOut);
$("lang").addEventListener("change", async () => {
  const lang = $("lang").value;
  I18N.explicit = true;
  try { localStorage.setItem("cabinet-lang", lang); } catch (e) { /* storage off */ }
  if (new URLSearchParams(location.search).has("lang")) history.replaceState(null, "", location.pathname + location.hash);
  try { await loadLanguage(lang); } catch (e) { return; }
  say("");
  alertText("");
  // Everything shown is rendered again in the new language.
  if (ledger) renderHistory();
  if (watched) showWithdrawal(watched);
  renderReferrals();
  if (ended) endSession(ended);
  else if (me) await refresh();
});

startLanguages().then(() => {
  if (!session) endSession(() => t("error.session-missing"));
  else refresh();
});
