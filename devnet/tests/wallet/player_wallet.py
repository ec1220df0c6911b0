"""A player's wallet: CrowdWiz's own Python library (crowdwiz 0.9.4) with its default
settings against a node URL (http:// or ws://). Connects, reads the account and its
balances, finds and decrypts the gateway's link message (send_message, op 61), pays the
gateway with `transfer` as the library builds it, then once more with blocking=True, and
finds the first payment again by streaming blocks with `Blockchain`.

Usage: player_wallet.py URL PLAYER ACTIVE_WIF MEMO_WIF GATEWAY AMOUNT_CWD
Prints one JSON object (no keys in it) on stdout.
"""
import json
import sys
import time

from crowdwiz import CrowdWiz
from crowdwiz.account import Account
from crowdwiz.blockchain import Blockchain
from crowdwiz.memo import Memo


def main():
    url, player, active_wif, memo_wif, gateway, amount = sys.argv[1:7]
    out = {}
    cwd = CrowdWiz(node=url, keys=[active_wif, memo_wif])
    acc = Account(player, blockchain_instance=cwd)
    out["account_id"] = acc["id"]
    units = lambda a: int(round(a.amount * 10 ** a.asset["precision"]))
    out["balances"] = {str(b.symbol): units(b) for b in acc.balances}

    messages = []
    for op in acc.history(only_ops=["send_message"]):
        body = op["op"][1]
        text = Memo(blockchain_instance=cwd).decrypt(body["memo"])
        messages.append({"from": body["from"], "text": text, "block_num": op["block_num"]})
    out["messages"] = messages

    start_block = cwd.rpc.get_dynamic_global_properties()["head_block_number"]
    memo = "deposit " + (messages[0]["text"].split()[-1] if messages else "none")
    sent = cwd.transfer(gateway, float(amount), "CWD", memo=memo, account=player)
    out["transfer"] = {"expiration": sent["expiration"], "operations": sent["operations"]}

    blocking = CrowdWiz(node=url, keys=[active_wif, memo_wif], blocking=True)
    confirmed = blocking.transfer(gateway, float(amount), "CWD", memo=memo + " again", account=player)
    out["blocking"] = {"id": confirmed["id"], "block_num": confirmed["block_num"], "trx_num": confirmed["trx_num"]}

    found = None
    chain = Blockchain(blockchain_instance=cwd, mode="head")
    deadline = time.time() + 60
    for op in chain.stream(opNames=["transfer"], start=start_block):
        if op.get("to") == acc_id(cwd, gateway) and op.get("from") == acc["id"]:
            found = {"block_num": op["block_num"], "amount": op["amount"]["amount"]}
            break
        if time.time() > deadline:
            break
    out["streamed"] = found
    print(json.dumps(out))


def acc_id(cwd, name):
    return Account(name, blockchain_instance=cwd)["id"]


if __name__ == "__main__":
    main()
