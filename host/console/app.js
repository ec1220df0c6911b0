// The operator console: plain DOM, no build step. It signs in with an API token (an
// operator's or an observer's), keeps it in this tab's sessionStorage only, and makes
// every action as POST /v1/<call> with it: the gateway's roles decide what it may do.
// Values from the API are only ever set as text, never as markup.
"use strict";

const CWD_UNITS = 100000n;
const TOKEN_KEY = "console-token";
const ALERT_WINDOW = 1000; // feed events looked at for the recent alerts
const ALERTS_SHOWN = 20;
const AUDIT_PAGE = 50;
const STATEMENT_PAGE = 50;

// ---- plumbing -------------------------------------------------------------------------
const $ = (id) => document.getElementById(id);
const show = (id, on) => { $(id).hidden = !on; };
const say = (text) => { $("status").textContent = text || ""; };
function alertText(text) { $("alert").textContent = text || ""; show("alert", !!text); }
function errorIn(id, text) { $(id).textContent = text || ""; show(id, !!text); }

let token = "";
let who = null; // {name, role} from whoami
let readOnly = true;

class CallError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || "the gateway could not be reached (" + status + ")");
    this.status = status; this.code = e.code || "unknown"; this.body = e;
  }
}

// `args` is an object, or a JSON text already made (the settings editor keeps numbers
// as typed).
async function call(name, args) {
  let res;
  try {
    res = await fetch("../v1/" + name, {
      method: "POST",
      headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
      body: typeof args === "string" ? args : JSON.stringify(args || {}),
      cache: "no-store",
      credentials: "omit",
    });
  } catch (e) {
    throw new CallError(0, { error: { code: "offline", message: "the gateway could not be reached; check the connection" } });
  }
  let body = null;
  try { body = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) {
    const err = new CallError(res.status, body);
    if (res.status === 401 && who) signOut("The gateway no longer accepts this token: sign in again.");
    throw err;
  }
  return body;
}

// ---- formatting -----------------------------------------------------------------------
function formatCwd(units) {
  if (units === null || units === undefined) return "unknown";
  let u = BigInt(units);
  const sign = u < 0n ? "−" : "";
  if (u < 0n) u = -u;
  const whole = (u / CWD_UNITS).toString().replace(/\B(?=(\d{3})+(?!\d))/g, "\u202f");
  return sign + whole + "." + (u % CWD_UNITS).toString().padStart(5, "0") + " CWD";
}
function formatGame(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, "\u202f"); }
function when(ms) {
  if (!ms) return "";
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19);
}
function describeRate(rate) {
  return "1 CWD = " + ((BigInt(rate.game_units) * CWD_UNITS) / BigInt(rate.per_cwd_units)).toString() + " game units";
}

// A table row of text cells; a Node is put in as it is (buttons, inputs).
function row(cells, attrs) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = document.createElement("td");
    if (c instanceof Node) td.appendChild(c);
    else if (c && typeof c === "object") {
      td.textContent = c.text;
      if (c.cls) td.className = c.cls;
    } else td.textContent = c === null || c === undefined ? "" : String(c);
    tr.appendChild(td);
  }
  for (const [k, v] of Object.entries(attrs || {})) tr.dataset[k] = v;
  return tr;
}
function fill(tbodyId, emptyId, rows) {
  $(tbodyId).replaceChildren(...rows);
  show(emptyId, rows.length === 0);
}
// An input and a button that calls `act(value)`; only in an operator's console.
function action(label, cls, placeholder, act, needsText) {
  const box = document.createElement("div");
  box.className = "action write";
  let input = null;
  if (placeholder !== null) {
    input = document.createElement("input");
    input.placeholder = placeholder;
    input.autocomplete = "off";
    input.setAttribute("aria-label", placeholder);
    input.className = cls + "-input";
    box.appendChild(input);
  }
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.className = cls + " write";
  b.addEventListener("click", async () => {
    const text = input ? input.value.trim() : "";
    if (needsText && !text) { alertText(needsText); if (input) input.focus(); return; }
    b.disabled = true;
    alertText("");
    try { await act(text); } catch (e) { alertText(e.message); } finally { b.disabled = false; }
  });
  box.appendChild(b);
  return box;
}
function writeCell(...nodes) {
  if (readOnly) return null;
  const frag = document.createElement("div");
  frag.className = "actions";
  for (const n of nodes) frag.appendChild(n);
  return frag;
}
function cellsFor(cells, writes) {
  return readOnly ? cells : cells.concat(writes);
}

// ---- sign in / out --------------------------------------------------------------------
async function signIn(candidate, remembered) {
  token = candidate;
  let me;
  try {
    me = await call("whoami");
  } catch (e) {
    token = "";
    if (remembered) sessionStorage.removeItem(TOKEN_KEY);
    errorIn("signin-error", e.status === 401 ? "This token is not accepted by the gateway." : e.message);
    return;
  }
  if (me.role !== "operator" && me.role !== "observer") {
    token = "";
    sessionStorage.removeItem(TOKEN_KEY);
    errorIn("signin-error", "“" + me.name + "” is a " + me.role + " token: the console takes an operator's or an observer's token. A game server's token cannot review payouts or change settings.");
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, candidate);
  who = me;
  readOnly = me.role !== "operator";
  $("token").value = "";
  errorIn("signin-error", "");
  $("who-name").textContent = me.name;
  $("who-role").textContent = me.role;
  show("read-only-note", readOnly);
  document.body.classList.toggle("read-only", readOnly);
  for (const el of document.querySelectorAll(".write")) el.hidden = readOnly;
  show("who", true);
  show("tabs", true);
  show("signin-panel", false);
  say("Signed in as " + me.name + (readOnly ? " (observer: read-only)." : " (operator)."));
  settingsView = null;
  await openPanel("dashboard");
}

function signOut(message) {
  token = "";
  who = null;
  readOnly = true;
  sessionStorage.removeItem(TOKEN_KEY);
  stopAutoRefresh();
  for (const s of document.querySelectorAll("section.panel")) s.hidden = true;
  for (const id of ["alerts-rows", "review-rows", "queued-rows", "sent-rows", "unclaimed-rows", "unknown-rows", "sweeps-rows", "audit-rows", "statement-rows", "settings-fields"]) $(id).replaceChildren();
  show("user-result", false);
  show("who", false);
  show("tabs", false);
  show("signin-panel", true);
  alertText("");
  say(message || "");
  settingsView = null;
  $("token").focus();
}

$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const t = $("token").value.trim();
  if (!t) { errorIn("signin-error", "Paste an API token."); return; }
  $("signin").disabled = true;
  try { await signIn(t, false); } finally { $("signin").disabled = false; }
});
$("sign-out").addEventListener("click", () => signOut("Signed out."));

// ---- panels ---------------------------------------------------------------------------
const loaders = {};
let current = null;
let autoRefresh = null;
function stopAutoRefresh() { if (autoRefresh) { clearInterval(autoRefresh); autoRefresh = null; } }

async function openPanel(name) {
  current = name;
  for (const b of document.querySelectorAll("#tabs button")) {
    if (b.dataset.panel === name) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  }
  for (const s of document.querySelectorAll("section.panel")) s.hidden = s.id !== name + "-panel";
  alertText("");
  stopAutoRefresh();
  if (name === "dashboard") autoRefresh = setInterval(() => { if (current === "dashboard" && who) loaders.dashboard(); }, 20000);
  await loaders[name]();
}
for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => openPanel(b.dataset.panel));
for (const b of document.querySelectorAll("button[data-refresh]")) b.addEventListener("click", () => loaders[b.dataset.refresh]());

// The settings in force (the four-eyes threshold for the review queue, the editor).
let settingsView = null;
async function settings() {
  if (!settingsView) settingsView = await call("get-settings");
  return settingsView;
}

// ---- dashboard ------------------------------------------------------------------------
loaders.dashboard = async () => {
  await Promise.all([loadBooks(), loadStatus(), loadAlerts()]);
};

async function loadBooks() {
  let b;
  try { b = await call("reconcile"); } catch (e) { errorIn("books-error", e.message); return; }
  errorIn("books-error", "");
  $("b-owed").textContent = formatCwd(b.owed_cwd);
  $("b-balances").textContent = formatCwd(b.balances_cwd) + " (" + formatGame(b.balances_game) + " game units, pool " + formatGame(b.pool_game) + ")";
  $("b-unsent").textContent = formatCwd(b.unsent_cwd);
  $("b-unclaimed").textContent = formatCwd(b.unclaimed_cwd);
  $("b-sent").textContent = formatCwd(b.sent_cwd);
  $("b-hot").textContent = formatCwd(b.hot_cwd);
  $("b-cold").textContent = formatCwd(b.cold_cwd);
  $("b-surplus").textContent = b.surplus_cwd === null ? "unknown (a balance could not be read)" : formatCwd(b.surplus_cwd);
  const verdict = $("books-verdict");
  verdict.className = b.mismatch ? "mismatch" : "balanced";
  verdict.textContent = b.mismatch
    ? "Mismatch: the chain holds less than the gateway owes. Stop payouts and find the difference."
    : (b.surplus_cwd === null ? "Not checked: a balance on chain is unknown." : "The books balance: the chain holds at least what is owed.");
  $("books").dataset.mismatch = String(b.mismatch);
  $("books-explanation").replaceChildren(...b.explanation.map((line) => {
    const li = document.createElement("li");
    li.textContent = line;
    return li;
  }));
}

async function loadStatus() {
  let s;
  try { s = await call("status"); } catch (e) { errorIn("status-error", e.message); return; }
  errorIn("status-error", "");
  const fr = s.fee_reserve;
  $("s-account").textContent = s.gateway_account;
  $("s-scanned").textContent = String(s.scanned_through_block);
  $("s-hot").textContent = formatCwd(s.cwd_balance) + (s.low_fee_balance ? " — below the low-fee threshold" : "");
  $("s-hot").classList.toggle("warn", !!s.low_fee_balance);
  $("s-pending").textContent = s.pending_withdrawals + " (" + formatCwd(s.pending_cwd) + ")";
  $("s-frozen").textContent = formatGame(s.frozen_game) + " game units";
  $("s-unclaimed").textContent = s.unclaimed_count + " open (" + formatCwd(s.unclaimed_cwd) + ")";
  $("s-fee-balance").textContent = formatCwd(fr.fee_balance);
  $("s-fee-reserve").textContent = formatCwd(fr.reserve_cwd) + " kept for fees";
  $("s-fees-week").textContent = formatCwd(fr.fees_last_week) + " (" + fr.link_messages + " link messages, " + fr.payouts + " transfers)";
  $("s-days-left").textContent = fr.days_left === null ? "no fees spent last week" : fr.days_left + " days" + (fr.low ? " — low" : "");
  $("s-days-left").classList.toggle("warn", !!fr.low);
  $("s-paused").textContent = s.payouts_paused ? "PAUSED: an unknown payout waits for acknowledgement" : "running";
  $("s-paused").classList.toggle("warn", !!s.payouts_paused);
  const sw = s.open_sweep;
  $("s-sweep").textContent = sw ? sw.sweep_id + ": " + formatCwd(sw.cwd) + " to " + sw.cold_account + " (" + sw.state + ")" : "none";
}

async function loadAlerts() {
  let events;
  try {
    const { seq } = await call("feed-position");
    events = await call("list-events", { after: Math.max(0, seq - ALERT_WINDOW), limit: ALERT_WINDOW });
  } catch (e) { errorIn("alerts-error", e.message); return; }
  errorIn("alerts-error", "");
  const alerts = events.filter((e) => e.event && e.event.type === "alert").slice(-ALERTS_SHOWN).reverse();
  fill("alerts-rows", "alerts-empty", alerts.map((e) => {
    const details = Object.entries(e.event)
      .filter(([k]) => k !== "type" && k !== "kind")
      .map(([k, v]) => k + ": " + (typeof v === "object" ? JSON.stringify(v) : String(v)))
      .join("; ");
    return row([when(e.at_ms), e.event.kind || "alert", { text: details, cls: "wrap" }], { kind: e.event.kind || "" });
  }));
}

// ---- review queue ---------------------------------------------------------------------
function approvalsNeeded(w, s) {
  const fourEyes = s.settings.withdrawals.four_eyes_above_cwd;
  return fourEyes > 0 && w.cwd > fourEyes ? 2 : 1;
}
function approvalsText(w, s) {
  const needed = approvalsNeeded(w, s);
  const n = w.approved_by.length;
  if (n === 0) return needed === 2 ? "0 of 2 approvals (four eyes)" : "0 of 1 approval";
  return n + " of " + needed + " approvals: " + w.approved_by.join(", ");
}

loaders.review = async () => {
  let s, review, queued, sent;
  try {
    settingsView = null;
    [s, review, queued, sent] = await Promise.all([
      settings(),
      call("list-withdrawals", { state: "awaiting-review", limit: 200 }),
      call("list-withdrawals", { state: "queued", limit: 200 }),
      call("list-withdrawals", { state: "sent", limit: 200 }),
    ]);
  } catch (e) { alertText(e.message); return; }
  const w = s.settings.withdrawals;
  $("review-rule").textContent = "Payouts above " + formatCwd(w.review_above_cwd) + " wait for review" +
    (w.four_eyes_above_cwd > 0 ? "; above " + formatCwd(w.four_eyes_above_cwd) + " they need two different operators (four eyes)." : "; one approval releases each.");
  fill("review-rows", "review-empty", review.map((x) => row(cellsFor([
    x.withdrawal_id, x.user, x.account, { text: formatGame(x.game), cls: "num" }, { text: formatCwd(x.cwd), cls: "num" },
    when(x.requested_at_ms), { text: approvalsText(x, s), cls: "approvals" }, { text: x.note || "", cls: "note" },
  ], [writeCell(
    action("Approve", "approve", null, () => approve(x)),
    action("Reject", "reject danger", "reason", (reason) => decide("reject-withdrawal", x, reason, "Rejected"), "Give a reason to reject."),
  )]), { id: x.withdrawal_id, approvals: String(x.approved_by.length) })));
  fill("queued-rows", "queued-empty", queued.map((x) => row(cellsFor([
    x.withdrawal_id, x.user, x.account, { text: formatGame(x.game), cls: "num" }, { text: formatCwd(x.cwd), cls: "num" },
    when(x.requested_at_ms), x.approved_by.join(", "),
  ], [writeCell(action("Cancel", "cancel danger", "reason", (reason) => decide("cancel-withdrawal", x, reason, "Cancelled"), "Give a reason to cancel."))]), { id: x.withdrawal_id })));
  fill("sent-rows", "sent-empty", sent.map((x) => row([
    x.withdrawal_id, x.user, x.account, { text: formatCwd(x.cwd), cls: "num" }, x.tx_id || "", String(x.attempts),
  ], { id: x.withdrawal_id })));
};

async function approve(w) {
  let after;
  try {
    after = await call("approve-withdrawal", { withdrawal_id: w.withdrawal_id });
  } catch (e) {
    if (e.code === "second-approver-needed") {
      throw new Error("You (" + who.name + ") already approved " + w.withdrawal_id + ": a second, different operator must approve it (four eyes).");
    }
    throw e;
  }
  if (after.state === "awaiting-review") {
    const s = await settings();
    say("Approved " + w.withdrawal_id + ": " + approvalsText(after, s) + ". A second operator releases it.");
  } else {
    say("Approved " + w.withdrawal_id + ": released (" + after.state + "), approved by " + after.approved_by.join(" and ") + ".");
  }
  await loaders.review();
}

async function decide(callName, w, reason, done) {
  const after = await call(callName, { withdrawal_id: w.withdrawal_id, reason });
  say(done + " " + w.withdrawal_id + " (" + after.state + "); " + formatGame(after.game) + " game units returned to " + after.user + ".");
  await loaders.review();
}

// ---- unclaimed deposits ---------------------------------------------------------------
function assetAmount(assetId, amount) {
  return assetId === "1.3.0" ? formatCwd(amount) : String(amount) + " of asset " + assetId;
}

loaders.unclaimed = async () => {
  let list;
  try { list = await call("list-unclaimed", { limit: 500 }); } catch (e) { alertText(e.message); return; }
  fill("unclaimed-rows", "unclaimed-empty", list.map((u) => row(cellsFor([
    u.deposit_id, u.from_account_id, { text: assetAmount(u.asset_id, u.amount), cls: "num" }, { text: u.reason, cls: "wrap" },
  ], [
    writeCell(action("Assign", "assign", "user id", async (user) => {
      const done = await call("assign-unclaimed", { deposit_id: u.deposit_id, user });
      say("Assigned " + u.deposit_id + " to " + user + " (" + done.state + ").");
      await loaders.unclaimed();
    }, "Type the user id to credit.")),
    writeCell(action("Mark for refund", "refund secondary", "note", async (note) => {
      await call("refund-unclaimed", { deposit_id: u.deposit_id, note });
      say("Marked " + u.deposit_id + " for refund.");
      await loaders.unclaimed();
    }, "Write a note (how it is refunded).")),
  ]), { id: u.deposit_id })));
};

// ---- unknown payouts ------------------------------------------------------------------
loaders.unknown = async () => {
  let list;
  try { list = await call("list-unknown-payouts", { include_acknowledged: true }); } catch (e) { alertText(e.message); return; }
  fill("unknown-rows", "unknown-empty", list.map((p) => row(cellsFor([
    p.deposit_id, p.to_account_id, { text: assetAmount(p.asset_id, p.amount), cls: "num" }, p.memo_withdrawal_id,
    p.acknowledged ? "acknowledged: " + (p.note || "") : "open — payouts paused",
  ], [p.acknowledged ? "" : writeCell(action("Acknowledge", "acknowledge", "note", async (note) => {
    await call("acknowledge-unknown-payout", { deposit_id: p.deposit_id, note });
    say("Acknowledged " + p.deposit_id + ".");
    await loaders.unknown();
  }, "Write a note: how this payout was settled."))]), { id: p.deposit_id })));
};

// ---- sweeps ---------------------------------------------------------------------------
loaders.sweeps = async () => {
  const all = [];
  try {
    let after = null;
    for (let i = 0; i < 20; i++) {
      const page = await call("list-sweeps", after ? { start_after: after, limit: 500 } : { limit: 500 });
      all.push(...page);
      if (page.length < 500) break;
      after = page[page.length - 1].sweep_id;
    }
  } catch (e) { alertText(e.message); return; }
  fill("sweeps-rows", "sweeps-empty", all.reverse().map((s) => row([
    s.sweep_id, when(s.created_at_ms), s.cold_account, { text: formatCwd(s.cwd), cls: "num" }, { text: formatCwd(s.fee), cls: "num" },
    formatCwd(s.hot_balance) + " / " + formatCwd(s.kept_cwd), s.state, s.tx_id + (s.block_num ? " in block " + s.block_num : ""),
  ], { id: s.sweep_id })));
};

// ---- audit log ------------------------------------------------------------------------
let auditCursor = null;
function auditFilter() {
  const f = {};
  for (const [k, id] of [["actor", "audit-actor"], ["call", "audit-call"], ["subject", "audit-subject"]]) {
    const v = $(id).value.trim();
    if (v) f[k] = v;
  }
  return f;
}
const ARGS_SHOWN = 160; // characters of an entry's arguments in the table (all in its tooltip and the CSV)
function auditRow(e) {
  const args = e.arguments.length > ARGS_SHOWN ? e.arguments.slice(0, ARGS_SHOWN) + "…" : e.arguments;
  const tr = row([when(e.at_ms), e.actor, e.call, e.subject, { text: args, cls: "args" }, e.outcome], { id: e.id, actor: e.actor, call: e.call });
  tr.children[4].title = e.arguments;
  tr.children[5].classList.toggle("error", e.outcome !== "ok");
  return tr;
}
async function loadAudit(more) {
  const args = Object.assign({ limit: AUDIT_PAGE }, auditFilter());
  if (more && auditCursor) args.start_before = auditCursor;
  let page;
  try { page = await call("list-audit", args); } catch (e) { alertText(e.message); return; }
  const rows = page.map(auditRow);
  if (more) $("audit-rows").append(...rows);
  else $("audit-rows").replaceChildren(...rows);
  show("audit-empty", $("audit-rows").children.length === 0);
  if (page.length) auditCursor = page[page.length - 1].id;
  show("audit-older", page.length === AUDIT_PAGE);
}
loaders.audit = () => loadAudit(false);
$("audit-filter").addEventListener("submit", (ev) => { ev.preventDefault(); loadAudit(false); });
$("audit-older").addEventListener("click", async () => {
  $("audit-older").disabled = true;
  try { await loadAudit(true); } finally { $("audit-older").disabled = false; }
});

// One CSV field: quoted, and a leading = + - @ made inert for spreadsheets.
function csvField(v) {
  let s = v === null || v === undefined ? "" : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return '"' + s.replace(/"/g, '""') + '"';
}
// Every page of the filtered log, built into a CSV file in the browser.
$("audit-export").addEventListener("click", async () => {
  const b = $("audit-export");
  b.disabled = true;
  alertText("");
  try {
    const filter = auditFilter();
    const lines = [["id", "at_utc", "at_ms", "actor", "call", "subject", "arguments", "outcome"].join(",")];
    let cursor = null;
    for (;;) {
      const args = Object.assign({ limit: 500 }, filter);
      if (cursor) args.start_before = cursor;
      const page = await call("list-audit", args);
      for (const e of page) lines.push([e.id, when(e.at_ms), e.at_ms, e.actor, e.call, e.subject, e.arguments, e.outcome].map(csvField).join(","));
      say("Exporting the audit log… " + (lines.length - 1) + " entries");
      if (page.length < 500) break;
      cursor = page[page.length - 1].id;
    }
    const blob = new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" });
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = "audit-" + new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-") + ".csv";
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    say("Exported " + (lines.length - 1) + " audit entries as " + a.download + ".");
  } catch (e) {
    alertText(e.message);
  } finally {
    b.disabled = false;
  }
});

// ---- settings editor ------------------------------------------------------------------
// Every field of get-settings' `settings`, grouped as the record groups them. Numbers
// stay the digits typed (sent as JSON numbers, never through a float).
const GROUP_TITLES = {
  deposit_rate: "Deposit rate (game units per CWD units)",
  withdrawal_rate: "Withdrawal rate (game units per CWD units)",
  link: "Linking",
  withdrawals: "Withdrawals (CWD units, 1e-5 CWD)",
  treasury: "Treasury (CWD units)",
  referrals: "Referrals",
  "": "Other",
};
const NOT_SETTINGS = ["treasury.cold_account", "referrals.pool_user"]; // the configuration's

function settingInput(path, value) {
  const label = document.createElement("label");
  const name = path.split(".").pop();
  label.textContent = name;
  const input = document.createElement("input");
  input.name = path;
  input.id = "set-" + path.replace(/\./g, "-");
  input.autocomplete = "off";
  input.spellcheck = false;
  if (Array.isArray(value)) {
    input.dataset.kind = "list";
    input.value = value.join(", ");
    input.placeholder = "comma-separated, e.g. 100, 50";
  } else if (typeof value === "number") {
    input.dataset.kind = "number";
    input.inputMode = "numeric";
    input.value = String(value);
  } else if (typeof value === "boolean") {
    input.dataset.kind = "bool";
    input.value = String(value);
  } else {
    input.dataset.kind = "string";
    input.value = value === null ? "" : String(value);
  }
  input.dataset.path = path;
  input.dataset.original = input.value;
  input.disabled = readOnly || NOT_SETTINGS.includes(path);
  input.addEventListener("input", () => {
    input.classList.toggle("changed", input.value !== input.dataset.original);
    input.removeAttribute("aria-invalid");
  });
  label.appendChild(input);
  if (NOT_SETTINGS.includes(path)) {
    const hint = document.createElement("p");
    hint.className = "hint";
    hint.textContent = "set in the configuration file only";
    label.appendChild(hint);
  }
  return label;
}

function renderSettings(view) {
  settingsView = view;
  $("settings-meta").textContent = "Revision " + view.revision + (view.revision === 0
    ? ": the configuration file's values (never changed at runtime)."
    : ", changed " + when(view.changed_at_ms) + " UTC by " + view.changed_by + ".") +
    " Deposit " + describeRate(view.settings.deposit_rate) + "; withdrawal " + describeRate(view.settings.withdrawal_rate) + ".";
  const groups = [];
  const other = [];
  for (const [key, value] of Object.entries(view.settings)) {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      const fs = document.createElement("fieldset");
      fs.dataset.group = key;
      const legend = document.createElement("legend");
      legend.textContent = GROUP_TITLES[key] || key;
      fs.appendChild(legend);
      for (const [k, v] of Object.entries(value)) fs.appendChild(settingInput(key + "." + k, v));
      groups.push(fs);
    } else {
      other.push(settingInput(key, value));
    }
  }
  if (other.length) {
    const fs = document.createElement("fieldset");
    fs.dataset.group = "other";
    const legend = document.createElement("legend");
    legend.textContent = GROUP_TITLES[""];
    fs.append(legend, ...other);
    groups.push(fs);
  }
  $("settings-fields").replaceChildren(...groups);
  errorIn("settings-error", "");
}

loaders.settings = async () => {
  settingsView = null;
  try { renderSettings(await settings()); } catch (e) { alertText(e.message); }
};
$("settings-reload").addEventListener("click", () => loaders.settings());

// A JSON text of `obj` whose leaves may be {raw: "digits"}: numbers exactly as typed.
function toJson(v) {
  if (v && typeof v === "object" && "raw" in v) return v.raw;
  if (Array.isArray(v)) return "[" + v.map(toJson).join(",") + "]";
  if (v && typeof v === "object") return "{" + Object.entries(v).map(([k, x]) => JSON.stringify(k) + ":" + toJson(x)).join(",") + "}";
  return JSON.stringify(v);
}

function markInvalid(input, message) {
  input.setAttribute("aria-invalid", "true");
  input.focus();
  errorIn("settings-error", message);
}

$("settings-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (readOnly || !settingsView) return;
  errorIn("settings-error", "");
  const changes = {};
  let count = 0;
  for (const input of document.querySelectorAll("#settings-fields input")) {
    if (input.disabled || input.value === input.dataset.original) continue;
    const text = input.value.trim();
    let value;
    if (input.dataset.kind === "number") {
      if (!/^\d{1,20}$/.test(text)) return markInvalid(input, input.dataset.path + ": a whole number (no sign, no decimals).");
      value = { raw: text.replace(/^0+(?=\d)/, "") };
    } else if (input.dataset.kind === "list") {
      if (!/^(\d{1,10}(\s*,\s*\d{1,10})*)?$/.test(text)) return markInvalid(input, input.dataset.path + ": whole numbers separated by commas.");
      value = text ? text.split(",").map((x) => ({ raw: x.trim().replace(/^0+(?=\d)/, "") })) : [];
    } else if (input.dataset.kind === "bool") {
      if (text !== "true" && text !== "false") return markInvalid(input, input.dataset.path + ": true or false.");
      value = text === "true";
    } else {
      value = input.value;
    }
    const path = input.dataset.path.split(".");
    let at = changes;
    for (const p of path.slice(0, -1)) at = at[p] = at[p] || {};
    at[path[path.length - 1]] = value;
    count++;
  }
  if (count === 0) { say("Nothing changed."); return; }
  $("settings-save").disabled = true;
  try {
    const body = "{\"settings\":" + toJson(changes) + ",\"revision\":" + settingsView.revision + "}";
    const view = await call("update-settings", body);
    renderSettings(view);
    say("Saved " + count + " setting" + (count === 1 ? "" : "s") + ": revision " + view.revision + ", in force on every host now.");
  } catch (e) {
    if (e.code === "settings-changed") {
      errorIn("settings-error", "Someone changed the settings since you loaded them (revision " + e.body.revision + " now). Nothing was saved: press Reload, make your change again and save.");
    } else if (e.code === "invalid" && e.body.field) {
      // The gateway names the field as the configuration does: config.deposit-rate.game-units.
      const path = e.body.field.replace(/^config\./, "").replace(/-/g, "_");
      const input = document.querySelector("#settings-fields input[data-path=\"" + CSS.escape(path) + "\"]");
      const message = "Not saved: " + path + " — " + e.message.replace(/^[^:]*:\s*/, "");
      if (input) markInvalid(input, message); else errorIn("settings-error", message);
    } else {
      errorIn("settings-error", "Not saved: " + e.message);
    }
  } finally {
    $("settings-save").disabled = false;
  }
});

// ---- users ----------------------------------------------------------------------------
// The user's statement: the ledger's journal, every change of the balance and the frozen
// units, newest first, paged by the last line's id.
let statement = null;

const KIND_NAMES = {
  "deposit": "deposit", "deposit-assigned": "deposit (assigned)", "adjustment": "adjustment",
  "withdrawal": "withdrawal (frozen)", "withdrawal-paid": "withdrawal paid", "withdrawal-returned": "withdrawal returned",
  "transfer-in": "transfer in", "transfer-out": "transfer out", "referral-reward": "referral reward",
  "cashback": "cashback", "reward-paid": "rewards paid (pool)",
};

function signed(n) { return n === 0 ? "" : (n > 0 ? "+" : "−") + formatGame(Math.abs(n)); }

async function loadStatementPage() {
  const args = { user: statement.user, limit: STATEMENT_PAGE };
  if (statement.cursor) args.start_before = statement.cursor;
  const page = await call("statement", args);
  statement.rows = statement.rows.concat(page);
  statement.more = page.length === STATEMENT_PAGE;
  if (page.length) statement.cursor = page[page.length - 1].id;
}

function renderStatement() {
  fill("statement-rows", "statement-empty", statement.rows.map((m) => row([
    when(m.at_ms), KIND_NAMES[m.kind] || m.kind, m.reference,
    { text: signed(m.balance_delta), cls: "num" }, { text: signed(m.frozen_delta), cls: "num" },
    { text: m.cwd ? formatCwd(m.cwd) : "", cls: "num" }, { text: m.note, cls: "wrap" },
  ], { kind: m.kind })));
  show("statement-older", statement.more);
}

$("user-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const user = $("user-id").value.trim();
  if (!user) { alertText("Type a user id."); return; }
  alertText("");
  $("user-search").disabled = true;
  try {
    statement = { user, rows: [], cursor: null, more: false };
    const [account] = await Promise.all([call("account", { user }), loadStatementPage()]);
    $("u-user").textContent = account.user;
    const linked = account.linked;
    $("u-linked").textContent = linked ? linked.account + " (" + linked.account_id + ")" : (account.pending_link ? "not linked; a code is pending for " + account.pending_link.account : "not linked");
    $("u-balance").textContent = formatGame(account.balance) + " game units";
    $("u-frozen").textContent = formatGame(account.frozen) + " game units";
    renderStatement();
    show("user-result", true);
  } catch (e) {
    alertText(e.message);
  } finally {
    $("user-search").disabled = false;
  }
});
$("statement-older").addEventListener("click", async () => {
  if (!statement) return;
  $("statement-older").disabled = true;
  try {
    await loadStatementPage();
    renderStatement();
  } catch (e) {
    alertText(e.message);
  } finally {
    $("statement-older").disabled = false;
  }
});
loaders.users = async () => { if (!statement) $("user-id").focus(); };

// ---- start ----------------------------------------------------------------------------
const remembered = sessionStorage.getItem(TOKEN_KEY);
if (remembered) signIn(remembered, true);
else $("token").focus();
