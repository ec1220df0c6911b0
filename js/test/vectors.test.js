// Every reference vector (tests/vectors/crowdwiz-public.json) reproduced through the
// component in Node: the codec-only entry point and the gateway's codec agree with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCodec, createGateway, memoryStore, codecComponent } from '../src/index.js';
import { genRoot } from '../src/load.js';
import { vectors, mode } from './helpers.js';

function check(codec) {
  for (const k of vectors.keys) {
    assert.equal(codec.publicKeyOf(k.wif), k.public_key);
    assert.equal(codec.publicKeyToHex(k.public_key), k.compressed_hex);
    assert.equal(codec.publicKeyFromHex(k.compressed_hex), k.public_key);
  }
  for (const m of vectors.memos) {
    // Nonces are full 64-bit: as bigint, never a Number.
    const nonce = BigInt(m.nonce);
    assert.deepEqual(codec.memoEncrypt(m.from_wif, m.to, nonce, m.plaintext), { nonce, messageHex: m.message });
    // Without a nonce the component draws one (wasi:random) and says which.
    const drawn = codec.memoEncrypt(m.from_wif, m.to, undefined, m.plaintext);
    assert.equal(typeof drawn.nonce, 'bigint');
    assert.notEqual(drawn.nonce, codec.memoEncrypt(m.from_wif, m.to, undefined, m.plaintext).nonce);
    assert.equal(codec.memoDecrypt(m.to_wif, m.from, drawn.nonce, drawn.messageHex), m.plaintext);
    assert.equal(codec.memoDecrypt(m.to_wif, m.from, nonce, m.message), m.plaintext);
    assert.throws(() => codec.memoDecrypt(m.to_wif, m.from, nonce ^ 1n, m.message), (e) => e.code === 'memo-wrong-key');
  }
  assert.equal(codec.mainChainId(), vectors.chain_id);
  const wifOf = (pub) => vectors.keys.find((k) => k.public_key === pub).wif;
  for (const t of vectors.transactions) {
    const signed = t.signed_json;
    assert.equal(codec.operationHex(JSON.stringify(signed.operations[0])), t.op_hex);
    const info = codec.transactionInfo(JSON.stringify(signed), vectors.chain_id);
    assert.deepEqual(info, { unsignedHex: t.unsigned_tx_hex, digest: t.digest, id: t.tx_id });
    // Our signature (deterministic, RFC 6979) differs from the reference client's but
    // signs the same transaction with the same key.
    const ours = codec.signTransaction(JSON.stringify(signed), wifOf(t.signer_public_key), vectors.chain_id);
    assert.equal(codec.signTransaction(JSON.stringify(signed), wifOf(t.signer_public_key), vectors.chain_id), ours);
    assert.equal(codec.transactionInfo(ours, vectors.chain_id).id, t.tx_id);
    assert.deepEqual(codec.transactionSigners(ours, vectors.chain_id), [t.signer_public_key]);
    assert.equal(codec.recoverSigner(t.digest, JSON.parse(ours).signatures[0]), t.signer_public_key);
    assert.deepEqual(codec.transactionSigners(JSON.stringify(signed), vectors.chain_id), [t.signer_public_key]);
    assert.equal(codec.recoverSigner(t.digest, signed.signatures[0]), t.signer_public_key);
  }
  // Bad input is a typed error, never a trap.
  assert.throws(() => codec.publicKeyOf(vectors.keys[0].wif.slice(0, -1) + (vectors.keys[0].wif.endsWith('1') ? '2' : '1')), (e) => e.code === 'bad-key');
  assert.throws(() => codec.transactionInfo('{', vectors.chain_id), (e) => e.code === 'bad-json');
  assert.throws(() => codec.recoverSigner('00', '11'), (e) => e.code === 'bad-length' || e.code === 'bad-hex');
}

test('every reference vector through createCodec', async () => {
  check(await createCodec());
});

test('every reference vector through a gateway instance (async codec calls)', async () => {
  const gw = await createGateway({ mode, nodes: ['http://127.0.0.1:9'], store: memoryStore() });
  try {
    const sync = await createCodec();
    // The same answers through the gateway's async codec.
    for (const k of vectors.keys) assert.equal(await gw.codec.publicKeyOf(k.wif), sync.publicKeyOf(k.wif));
    const t = vectors.transactions[0];
    assert.deepEqual(await gw.codec.transactionInfo(JSON.stringify(t.signed_json), vectors.chain_id), sync.transactionInfo(JSON.stringify(t.signed_json), vectors.chain_id));
    await assert.rejects(gw.codec.publicKeyOf('nope'), (e) => e.name === 'CodecError' && e.code === 'bad-key');
  } finally {
    await gw.close();
  }
});

test('the codec-only component imports nothing of the gateway and stays small', { skip: codecComponent !== 'codec' && 'built without the codec-only component' }, () => {
  const dir = join(genRoot, 'codec');
  const dts = readFileSync(join(dir, 'codec.d.ts'), 'utf8');
  const block = dts.slice(dts.indexOf('export interface ImportObject'), dts.indexOf('}', dts.indexOf('export interface ImportObject')));
  const imports = [...block.matchAll(/'([^']+)': typeof/g)].map((m) => m[1]);
  assert.ok(imports.length > 0);
  assert.deepEqual(imports.filter((i) => i.startsWith('crowdwiz:')), []);
  // The size of the .wasm gen/codec was made from (scripts/build.js records it).
  const size = JSON.parse(readFileSync(join(genRoot, 'component.json'), 'utf8')).codec.bytes;
  assert.ok(size <= 300 * 1024, `the codec-only component is ${size} bytes`);
});
