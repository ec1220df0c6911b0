"""The whole story through the Python binding, against the library's in-process devnet: a
player links a CrowdWiz account, deposits CWD (credited through the event callback), wins
a round, withdraws (paid, once). Exits 0 when every check holds.

    ./run    (libcwd/bindings/python/run: CWD_LIB_DIR, then this)
"""

import json
import os
import queue
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cwd_gateway as cwd  # noqa: E402


class StoryFailed(Exception):
    pass


def check(cond, message):
    if not cond:
        raise StoryFailed(message)


def toml(s):
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(s)


def integer(v):
    """A JSON number, or a number written as a string (as a node writes large ones)."""
    return int(v)


def wait_event(events, typ, timeout, match=lambda ev: True):
    """Takes events off the callback's queue until one of type typ matches."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise StoryFailed("no %s event within %d s" % (typ, timeout))
        try:
            ev = events.get(timeout=left)
        except queue.Empty:
            continue
        print("  event", json.dumps(ev))
        if ev.get("type") == typ and match(ev):
            return ev


def story(tmp):
    print("library:", cwd.version())

    # 1. The devnet.
    devnet = cwd.Devnet({"block_ms": 200, "irreversible_lag": 2, "accounts": {"game-gateway": 1000, "alice-cwd": 500}})
    try:
        info = devnet.info
        gw_keys, alice = info["accounts"]["game-gateway"], info["accounts"]["alice-cwd"]
        print("devnet: %s, chain %s…, game-gateway %s, alice-cwd %s" % (info["url"], info["chain_id"][:12], gw_keys["id"], alice["id"]))

        # 2. The configuration and the keys.
        config = "\n".join([
            "[gateway]",
            'account = "game-gateway"',
            "chain_id = %s" % toml(info["chain_id"]),
            "tick_interval_ms = 200",
            "[node]",
            "urls = [%s]" % toml(info["url"]),
            "[rates]",
            "deposit = { game_units = 90, per_cwd_units = 100000 }",
            "withdrawal = { game_units = 100, per_cwd_units = 100000 }",
            "[store]",
            "path = %s" % toml(os.path.join(tmp, "gateway.db")),
            "[link]",
            "pow_bits = 0",
            "",
        ])
        keys = "active_wif = %s\nmemo_wif = %s\n" % (toml(gw_keys["active_wif"]), toml(gw_keys["memo_wif"]))

        # 3. The gateway, its event callback (it only queues), its timer.
        with cwd.Gateway(config, keys) as gw:
            events = queue.Queue()
            gw.set_event_callback(events.put)
            gw.start_timer()
            print("gateway: created, event callback set, timer started")
            run_story(gw, devnet, alice, events)
            gw.stop_timer()
            print("gateway: timer stopped")
    finally:
        devnet.close()


def run_story(gw, devnet, alice, events):
    # 4. Link: the code reaches alice-cwd's wallet in an encrypted message.
    link = gw.call("start-link", {"user": "alice", "account": "alice-cwd"})
    digits = link["code_digits"]
    code_re = re.compile(r"(?:^|\D)(\d{%d})(?:\D|$)" % digits)
    code, deadline = None, time.monotonic() + 60
    while code is None:
        check(time.monotonic() < deadline, "no link code in alice-cwd's messages within 60 s")
        time.sleep(0.2)
        for m in devnet.control("messages", {"account": "alice-cwd", "memo_wif": alice["memo_wif"]}):
            found = m.get("op") == "send_message" and code_re.search(m.get("message") or "")
            if found:
                code = found.group(1)
                print("link: start-link sent a %d-digit code (tx %s); alice-cwd's wallet reads %r" % (digits, link["tx_id"], m["message"]))
                break
    linked = gw.call("confirm-link", {"user": "alice", "code": code})
    check(linked["account"] == "alice-cwd" and linked["account_id"] == alice["id"], "confirm-link linked %r" % linked)
    print("link: confirmed, alice -> %s (%s)" % (linked["account"], linked["account_id"]))

    # 5. Deposit 10 CWD; credited through the event callback.
    devnet.control("transfer", {"from": "alice-cwd", "to": "game-gateway", "amount": 1000000, "active_wif": alice["active_wif"]})
    print("deposit: alice-cwd sent 10 CWD (1000000 units) to game-gateway")
    credited = wait_event(events, "deposit-credited", 60, lambda ev: ev.get("user") == "alice")
    cwd_units, game, balance = integer(credited["cwd"]), integer(credited["game"]), integer(credited["balance"])
    check((cwd_units, game, balance) == (1000000, 1000000 * 90 // 100000, 900),
          "deposit-credited: cwd %d game %d balance %d, expected 1000000, 900, 900" % (cwd_units, game, balance))
    print("deposit: credited %d game units for %d CWD units (deposit %s), balance %d" % (game, cwd_units, credited.get("deposit_id"), balance))

    # 6. A won round.
    adjusted = gw.call("adjust-balance", {"user": "alice", "delta": 150, "idempotency_key": "round-1", "reason": "won a round"})
    account = gw.call("account", {"user": "alice"})
    check(account["balance"] == balance + 150 == adjusted["balance"],
          "after adjust-balance +150: balance %d (adjust said %d), expected %d" % (account["balance"], adjusted["balance"], balance + 150))
    print("play: adjust-balance +150 (won a round), account balance %d" % account["balance"])

    # 7. Withdraw 500 game units: 500 * 100000 / 100 = 500000 CWD units (5 CWD).
    def chain_balance():
        return integer(devnet.control("balance", {"account": "alice-cwd"})["amount"])

    before = chain_balance()
    request = {"user": "alice", "game": 500, "idempotency_key": "out-1"}
    payout = 500 * 100000 // 100
    w = gw.call("request-withdrawal", request)
    check(w["game"] == 500 and w["cwd"] == payout, "request-withdrawal answered %r, expected game 500, cwd %d" % (w, payout))
    wid = w["withdrawal_id"]
    print("withdraw: %s requested, %d game units for %d CWD units, %s" % (wid, w["game"], w["cwd"], w["state"]))
    confirmed = wait_event(events, "withdrawal-confirmed", 60, lambda ev: ev.get("withdrawal", {}).get("withdrawal_id") == wid)
    print("withdraw: %s confirmed in block %s (tx %s)" % (wid, confirmed.get("block_num"), confirmed.get("tx_id")))
    account = gw.call("account", {"user": "alice"})
    check((account["balance"], account["frozen"]) == (balance + 150 - 500, 0),
          "after the withdrawal: balance %d frozen %d, expected %d and 0" % (account["balance"], account["frozen"], balance + 150 - 500))
    print("withdraw: account balance %d, frozen %d" % (account["balance"], account["frozen"]))

    again = gw.call("request-withdrawal", request)
    check(again["withdrawal_id"] == wid, "the same request-withdrawal made a new withdrawal %s (first %s)" % (again["withdrawal_id"], wid))
    time.sleep(2)  # a few blocks and ticks: nothing more may be paid
    after = chain_balance()
    account = gw.call("account", {"user": "alice"})
    check(after - before == payout and account["balance"] == balance + 150 - 500,
          "alice-cwd went %d -> %d (%+d), balance %d: expected exactly %+d and %d" % (before, after, after - before, account["balance"], payout, balance + 150 - 500))
    print("withdraw: the same request again is %s (%s), alice-cwd on chain %d -> %d (+%d), paid once" % (again["withdrawal_id"], again["state"], before, after, after - before))


def main():
    try:
        with tempfile.TemporaryDirectory(prefix="cwd-py-example-") as tmp:
            story(tmp)
    except (StoryFailed, cwd.CwdError, OSError, KeyError, ValueError, TypeError) as e:
        print("FAILED: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 1
    print("OK: the whole story passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
