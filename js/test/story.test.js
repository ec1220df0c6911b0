// The whole story through the package against the devnet: link, deposit, game change,
// withdrawal; the chain's balances and the gateway's books agree.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createGateway, memoryStore, sqliteStore } from '../src/index.js';
import { startDevnet, gatewayConfig, gatewayKeys, nextEvent, mode, GATEWAY } from './helpers.js';

let devnet;
afterEach(() => devnet?.stop());

async function story(store) {
  devnet = await startDevnet(['--block-seconds', '1', '--lag', '2']);
  const gw = await createGateway({ mode, nodes: [devnet.url], store, config: gatewayConfig(devnet), keys: gatewayKeys(devnet) });
  const seen = [];
  gw.events.on('event', (e) => seen.push(e.tag));
  try {
    // Link: the code goes to alice-cwd's wallet as an encrypted message.
    const started = await gw.startLink('alice', 'alice-cwd');
    assert.equal(started.account, 'alice-cwd');
    const alice = devnet.accounts['alice-cwd'];
    let code;
    for (let i = 0; i < 50 && !code; i++) {
      const inbox = await devnet.control('messages', { account: 'alice-cwd', memo_wif: alice.memo_wif });
      code = inbox.map((m) => m.message?.match(/\b(\d{6})\b/)?.[1]).find(Boolean);
      if (!code) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(code, 'the link code reached the wallet');
    await assert.rejects(gw.confirmLink('alice', code === '000000' ? '000001' : '000000'), (e) => e.code === 'wrong-code');
    const linked = await gw.confirmLink('alice', code);
    assert.equal(linked.account, 'alice-cwd');

    // Deposit: credited once its block is irreversible, exactly once.
    const chainBefore = BigInt((await devnet.control('balance', { account: 'alice-cwd' })).amount);
    const credited = nextEvent(gw.events, 'deposit-credited', (d) => d.user === 'alice');
    const tx = await devnet.control('transfer', { from: 'alice-cwd', to: GATEWAY, amount: 25 * 100_000, memo: 'top up' });
    const d = await credited;
    assert.equal(d.cwd, 2_500_000n);
    assert.equal(d.game, 2250n, '25 CWD at 90 per CWD');
    assert.deepEqual(await gw.account('alice').then((a) => [a.balance, a.frozen]), [2250n, 0n]);

    // Game changes, idempotent.
    await gw.adjustBalance('alice', 500n, 'match-1', 'won');
    const again = await gw.adjustBalance('alice', 500n, 'match-1', 'won');
    assert.equal(again.replayed, true);
    await gw.adjustBalance('alice', -250n, 'shop-1', 'sword');
    await assert.rejects(gw.adjustBalance('alice', -1_000_000n, 'shop-2', 'castle'), (e) => e.code === 'insufficient-balance');
    assert.equal((await gw.account('alice')).balance, 2500n);

    // Withdrawal: frozen at request, paid once, confirmed when irreversible.
    const confirmed = nextEvent(gw.events, 'withdrawal-confirmed', (w) => w.withdrawal.user === 'alice', 60_000);
    const w = await gw.requestWithdrawal('alice', { tag: 'game', val: 1000n }, 'w-1');
    assert.equal(w.cwd, 1_000_000n);
    assert.deepEqual(await gw.account('alice').then((a) => [a.balance, a.frozen]), [1500n, 1000n]);
    await confirmed;
    assert.equal((await gw.getWithdrawal(w.withdrawalId)).state, 'confirmed');
    assert.deepEqual(await gw.account('alice').then((a) => [a.balance, a.frozen]), [1500n, 0n]);
    const chainAfter = BigInt((await devnet.control('balance', { account: 'alice-cwd' })).amount);
    assert.equal(chainAfter, chainBefore - 2_500_000n - BigInt(tx.fee) + 1_000_000n);

    for (const k of ['link-code-sent', 'link-confirmed', 'deposit-credited', 'balance-adjusted', 'withdrawal-requested', 'withdrawal-sent', 'withdrawal-confirmed']) {
      assert.ok(seen.includes(k), `no ${k} event in ${seen}`);
    }
    // The feed holds every event the live copy told, in order, at dense positions.
    const feed = await gw.listEvents(0n, 1000);
    assert.deepEqual(feed.map((e) => e.seq), feed.map((_, i) => BigInt(i + 1)));
    assert.deepEqual(feed.map((e) => e.event.tag), seen.slice(0, feed.length));
    assert.ok(feed.length >= seen.length - 1, `${feed.length} of ${seen.length} in the feed`);
    assert.ok(feed.every((e) => /^ev_[0-9a-f]{16}$/.test(e.id)));
    // A webhook sender's claim hands each out once.
    const claims = await gw.claimWebhookDeliveries(100);
    assert.equal(claims.length, feed.length);
    const done = await gw.reportWebhookDelivery(claims[0].event.seq, true, 200, '');
    assert.equal(done.state, 'delivered');
  } finally {
    await gw.close();
  }
}

test('the whole story against the devnet (memory store)', { timeout: 120_000 }, async () => {
  await story(memoryStore());
});

const hasSqlite = await import('node:sqlite').then(() => true, () => false);
test('the whole story against the devnet (node:sqlite store)', { timeout: 120_000, skip: !hasSqlite && 'node:sqlite needs Node >= 22.5' }, async () => {
  await story(await sqliteStore(':memory:'));
});
