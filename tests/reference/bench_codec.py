#!/usr/bin/env python3
"""The codec benchmark's work done by CrowdWiz's own Python client (`crowdwiz` 0.9.4):
one transfer with an encrypted memo, memo encrypted, transaction serialized and signed.
Prints {"iterations": N, "mean_us": M}. Used by `cargo bench -p cwd-gateway --bench codec`
as a baseline when CWD_REFERENCE_PYTHON is set.

Usage: bench_codec.py FROM_WIF TO_PUB FROM_PUB ITERATIONS
"""
import json, sys, time
from crowdwizbase.account import PrivateKey, PublicKey
from crowdwizbase.memo import encode_memo
from crowdwizbase.signedtransactions import Signed_Transaction

wif, to_pub, from_pub, iterations = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def one(nonce):
    cipher = encode_memo(PrivateKey(wif), PublicKey(to_pub, prefix="CWD"), nonce, "withdrawal w-7")
    op = {
        "fee": {"amount": 130779, "asset_id": "1.3.0"},
        "from": "1.2.2060514", "to": "1.2.1819833",
        "amount": {"amount": 488912486335, "asset_id": "1.3.0"},
        "memo": {"from": from_pub, "to": to_pub, "nonce": nonce, "message": cipher, "prefix": "CWD"},
        "extensions": [], "prefix": "CWD",
    }
    tx = Signed_Transaction(ref_block_num=37134, ref_block_prefix=1592350392, expiration="2026-11-17T00:22:44",
                            operations=[[0, op]], extensions=[], signatures=[])
    tx.sign([wif], "CWD")
    return json.dumps(tx.json())

one(1)  # warm-up
start = time.perf_counter()
for i in range(iterations):
    one(i + 2)
print(json.dumps({"iterations": iterations, "mean_us": (time.perf_counter() - start) / iterations * 1e6}))
