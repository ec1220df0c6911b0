// The store contract of wit/store.wit, the same cases the Rust host's backends run
// (host/src/store/mod.rs `contract::check`), against each JS backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryStore, sqliteStore } from '../src/index.js';
import { prefixEnd } from '../src/stores.js';

const bytes = (s) => new TextEncoder().encode(s);
const text = (b) => new TextDecoder().decode(b);
const w = (key, value) => ({ key, value: bytes(value) });
const absent = (key) => ({ key, expectedVersion: undefined });
const at = (key, v) => ({ key, expectedVersion: v });

async function contract(store) {
  assert.equal(await store.get('a'), undefined);
  assert.equal(await store.commit([absent('a')], [w('a', '1'), w('b', 'x')]), 'committed');
  const a = await store.get('a');
  assert.equal(text(a.value), '1');
  assert.equal(typeof a.version, 'bigint');
  // A second "create if absent" loses: nothing of its batch is written.
  assert.equal(await store.commit([absent('a')], [w('a', '2'), w('c', 'y')]), 'conflict');
  assert.equal(text((await store.get('a')).value), '1');
  assert.equal(await store.get('c'), undefined);
  // Version guards: stale version loses, current wins and bumps.
  assert.equal(await store.commit([at('a', a.version + 1n)], [w('a', '3')]), 'conflict');
  assert.equal(await store.commit([at('a', a.version)], [w('a', '3')]), 'committed');
  const a2 = await store.get('a');
  assert.ok(a2.version > a.version);
  // Delete, then recreate: the old version never matches again.
  assert.equal(await store.commit([at('a', a2.version)], [{ key: 'a', value: undefined }]), 'committed');
  assert.equal(await store.get('a'), undefined);
  assert.equal(await store.commit([absent('a')], [w('a', '4')]), 'committed');
  assert.ok((await store.get('a')).version > a2.version);
  assert.equal(await store.commit([at('a', a2.version)], [w('a', '5')]), 'conflict');
  // Scans: prefix, order (UTF-8 bytes, not UTF-16 units), start-after, limit, non-ASCII keys.
  for (const k of ['u/1', 'u/2', 'u/10', 'u0', 'u/é', 'v/1', 'u/\u{10FFFF}', 'u/\uFFFD']) {
    assert.equal(await store.commit([], [w(k, k)]), 'committed');
  }
  const keys = (es) => es.map((e) => e.key);
  assert.deepEqual(keys(await store.scan('u/', undefined, 100)), ['u/1', 'u/10', 'u/2', 'u/é', 'u/\uFFFD', 'u/\u{10FFFF}']);
  assert.deepEqual(keys(await store.scan('u/', 'u/10', 2)), ['u/2', 'u/é']);
  assert.deepEqual(keys(await store.scan('', undefined, 3)), ['a', 'b', 'u/1']);
  assert.deepEqual(await store.scan('w/', undefined, 10), []);
  assert.deepEqual(keys(await store.scan('u/\u{10FFFF}', undefined, 10)), ['u/\u{10FFFF}']);
  assert.equal(text((await store.scan('v/', undefined, 1))[0].value), 'v/1');
  // Reverse scans: the same keys from the top, before `startBefore`.
  assert.deepEqual(keys(await store.scanReverse('u/', undefined, 100)), ['u/\u{10FFFF}', 'u/\uFFFD', 'u/é', 'u/2', 'u/10', 'u/1']);
  assert.deepEqual(keys(await store.scanReverse('u/', 'u/é', 2)), ['u/2', 'u/10']);
  assert.deepEqual(await store.scanReverse('u/', 'u/1', 10), []);
  assert.deepEqual(keys(await store.scanReverse('u/', 'u0', 1)), ['u/\u{10FFFF}']);
  assert.deepEqual(await store.scanReverse('u/', 'a', 10), []);
  assert.deepEqual(keys(await store.scanReverse('', undefined, 2)), ['v/1', 'u0']);
  assert.deepEqual(await store.scanReverse('w/', undefined, 10), []);
}

test('prefixEnd is tight', () => {
  assert.equal(prefixEnd('u/'), 'u0');
  assert.equal(prefixEnd('\u{10FFFF}'), undefined);
  assert.equal(prefixEnd('a\u{10FFFF}'), 'b');
  assert.equal(prefixEnd('\u{D7FF}'), '\u{E000}');
});

test('memory store meets the store contract', async () => {
  await contract(memoryStore());
});

// The memory store keeps its keys sorted and scans by binary search: the same answers
// as filtering and sorting everything, through random writes and deletes.
test('memory store scans agree with a full sort', async () => {
  const store = memoryStore();
  const model = new Map();
  let seed = 7;
  const rand = (n) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  const alphabet = ['a', 'b', '/', 'é', '\uFFFD', '\u{10FFFF}', '0'];
  const key = () => Array.from({ length: 1 + rand(3) }, () => alphabet[rand(alphabet.length)]).join('');
  const utf8 = (x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y));
  for (let i = 0; i < 600; i++) {
    const k = key();
    if (rand(4) === 0) {
      await store.commit([], [{ key: k, value: undefined }]);
      model.delete(k);
    } else {
      await store.commit([], [w(k, k)]);
      model.set(k, k);
    }
    const prefix = key().slice(0, rand(3));
    const after = rand(2) ? undefined : key();
    const limit = 1 + rand(8);
    const expected = [...model.keys()].filter((x) => x.startsWith(prefix) && (after === undefined || utf8(x, after) > 0)).sort(utf8).slice(0, limit);
    assert.deepEqual((await store.scan(prefix, after, limit)).map((e) => e.key), expected, `${JSON.stringify(prefix)} after ${JSON.stringify(after)}`);
    const before = after;
    const backwards = [...model.keys()].filter((x) => x.startsWith(prefix) && (before === undefined || utf8(x, before) < 0)).sort(utf8).reverse().slice(0, limit);
    assert.deepEqual((await store.scanReverse(prefix, before, limit)).map((e) => e.key), backwards, `${JSON.stringify(prefix)} before ${JSON.stringify(before)}`);
  }
});

const hasSqlite = await import('node:sqlite').then(() => true, () => false);
const noSqlite = !hasSqlite && 'node:sqlite needs Node >= 22.5';

test('node:sqlite store meets the store contract', { skip: noSqlite }, async () => {
  await contract(await sqliteStore(':memory:'));
});

test('node:sqlite: prefix scans use both bounds', { skip: noSqlite }, async () => {
  const store = await sqliteStore(':memory:');
  for (const [prefix, after] of [['dep/', undefined], ['dep/', 'dep/00042'], ['user/', 'a'], ['pow/', 'zzz']]) {
    const plan = store.scanPlan(prefix, after);
    assert.match(plan, /key>\? AND key<\?/, `${prefix} after ${after}: ${plan}`);
  }
  assert.match(store.scanPlan('\u{10FFFF}', undefined), /key>\?/);
  store.close();
});

test('node:sqlite: two handles on one file race safely and survive reopening', { skip: noSqlite }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cwd-js-sqlite-'));
  try {
    const path = join(dir, 'gw.db');
    const a = await sqliteStore(path);
    const b = await sqliteStore(path);
    const outcomes = await Promise.all([a.commit([absent('bind/x')], [w('bind/x', 'A')]), b.commit([absent('bind/x')], [w('bind/x', 'B')])]);
    assert.deepEqual(outcomes.sort(), ['committed', 'conflict']);
    const winner = text((await a.get('bind/x')).value);
    a.close();
    b.close();
    const c = await sqliteStore(path);
    assert.equal(text((await c.get('bind/x')).value), winner);
    c.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
