// The fetch JSON-RPC backend against local HTTP servers the test starts: results as the
// node's exact text, typed errors, timeouts, failover, and a possibly delivered
// broadcast never resent to another node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { JsonRpcNodes, NodeError } from '../src/index.js';
import { objectMembers, redact } from '../src/node-rpc.js';

async function server(handler) {
  const requests = [];
  const s = createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    requests.push(body);
    await handler(body, res);
  });
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${s.address().port}`, requests, close: () => new Promise((r) => s.close(r)) };
}

async function closedPort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${s.address().port}`;
  await new Promise((r) => s.close(r));
  return url;
}

const answer = (text) => (body, res) => res.end(text);

test('the result goes back as the exact text the node wrote (64-bit integers intact)', async () => {
  const result = '{"nonce":18446744073709551615,"amount":"9007199254740993","list":[1.50,{"a":"}"}]}';
  const s = await server(answer(`{"id":1,"jsonrpc":"2.0","result":${result}}`));
  try {
    const nodes = new JsonRpcNodes([s.url]);
    assert.equal(await nodes.call('database', 'get_objects', '[["2.1.0"],18446744073709551615]'), result);
    // The params went out as given too.
    assert.match(s.requests[0], /"params":\["database","get_objects",\[\["2.1.0"\],18446744073709551615\]\]/);
  } finally {
    await s.close();
  }
});

test('errors are typed: rpc (with a 64-bit code), bad response', async () => {
  const s = await server((body, res) => res.end(body.includes('boom') ? '{"id":1,"error":{"code":-9223372036854775808,"message":"assert failed"}}' : 'not json'));
  try {
    const nodes = new JsonRpcNodes([s.url]);
    await assert.rejects(nodes.call('database', 'boom', '[]'), (e) => e instanceof NodeError && e.payload.tag === 'rpc' && e.payload.val.code === -9223372036854775808n && e.payload.val.message === 'assert failed');
    await assert.rejects(nodes.call('database', 'x', '[]'), (e) => e.payload.tag === 'bad-response');
  } finally {
    await s.close();
  }
});

test('an unreachable node is skipped; the next one answers and stays current', async () => {
  // The live server first: a port freed before it listens could be handed to it.
  const up = await server(answer('{"id":1,"result":true}'));
  const down = await closedPort();
  try {
    const nodes = new JsonRpcNodes([down, up.url]);
    assert.equal(await nodes.call('database', 'get_chain_id', '[]'), 'true');
    assert.equal(nodes.current, 1);
    const onlyDown = new JsonRpcNodes([down]);
    await assert.rejects(onlyDown.call('database', 'get_chain_id', '[]'), (e) => e.payload.tag === 'unreachable');
  } finally {
    await up.close();
  }
});

test('a timed-out broadcast is never resent to another node; a timed-out read is', async () => {
  const slow = await server(async (body, res) => {
    await new Promise((r) => setTimeout(r, 400));
    res.end('{"id":1,"result":null}');
  });
  const other = await server(answer('{"id":1,"result":"other"}'));
  try {
    const nodes = new JsonRpcNodes([slow.url, other.url], { timeoutMs: 100 });
    await assert.rejects(nodes.call('network_broadcast', 'broadcast_transaction', '[{}]'), (e) => e.payload.tag === 'timeout');
    assert.equal(other.requests.length, 0, 'the broadcast went to one node only');
    assert.equal(await nodes.call('database', 'get_dynamic_global_properties', '[]'), '"other"');
    assert.equal(other.requests.length, 1);
    // A broadcast to a node never reached may go to the next one.
    const down = await closedPort();
    const viaNext = new JsonRpcNodes([down, other.url]);
    assert.equal(await viaNext.call('network_broadcast', 'broadcast_transaction', '[{}]'), '"other"');
  } finally {
    await slow.close();
    await other.close();
  }
});

test('fail-over moves to the next node, and says no with one node', () => {
  const lines = [];
  const two = new JsonRpcNodes(['http://a', 'http://b'], { log: (l) => lines.push(l) });
  assert.equal(two.failOver('pruned'), true);
  assert.equal(two.current, 1);
  assert.equal(new JsonRpcNodes(['http://a'], { log: (l) => lines.push(l) }).failOver('pruned'), false);
});

test('credentials in node URLs never reach a message', async () => {
  assert.equal(redact('connect to https://user:s3cret@node.example/ws failed'), 'connect to https://***@node.example/ws failed');
  const nodes = new JsonRpcNodes([`${await closedPort()}`.replace('http://', 'http://user:s3cret@')]);
  await assert.rejects(nodes.call('database', 'x', '[]'), (e) => !JSON.stringify(e.payload).includes('s3cret'));
});

test('objectMembers keeps raw member texts and refuses broken JSON', () => {
  const m = objectMembers(' {"a" : [1,{"b":"]}"}] , "c":"x\\"y", "d": -1e5 } ');
  assert.deepEqual([...m.entries()], [['a', '[1,{"b":"]}"}]'], ['c', '"x\\"y"'], ['d', '-1e5']]);
  assert.throws(() => objectMembers('{"a":1'));
  assert.throws(() => objectMembers('[1]'));
});
