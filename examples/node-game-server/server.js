// A tiny game server: players link a CrowdWiz account, deposit CWD, win and spend game
// coins, and withdraw, all through the gateway component embedded in this process.
// It starts a local devnet (a simulated chain) so that it runs with no real chain.
//
//   npm install && npm start      (then see the printed curl lines)
//   node server.js --once         (plays the whole story by itself and exits)
import { createServer } from 'node:http';
import { createGateway, memoryStore, sqliteStore, GatewayError } from '@crowdwiz/gateway';
import { startDevnet } from '@crowdwiz/gateway/devnet';

const once = process.argv.includes('--once');
const port = Number(process.env.PORT ?? 8080);

// A throwaway local chain: the release's `cwd-gateway devnet` ($CWD_GATEWAY_BIN or the
// PATH), or a checkout's `cwd-devnet`. It prints the accounts it made with their keys.
const devnet = await startDevnet({ args: ['--block-seconds', '1', '--lag', '2'], accounts: ['crowdwiz-gateway:1000', 'alice-cwd:500'] });
const gw = await createGateway({
  nodes: [devnet.url],
  // node:sqlite where the Node has it (state survives restarts), else in memory.
  store: await sqliteStore(':memory:').catch(() => memoryStore()),
  config: {
    gatewayAccount: 'crowdwiz-gateway',
    chainId: devnet.chainId,
    depositRate: { gameUnits: 90n, perCwdUnits: 100_000n },
    withdrawalRate: { gameUnits: 100n, perCwdUnits: 100_000n },
    tickIntervalMs: 1000n,
  },
  keys: { activeWif: devnet.accounts['crowdwiz-gateway'].active_wif, memoWif: devnet.accounts['crowdwiz-gateway'].memo_wif },
});
console.log(`gateway running (${gw.mode}) against the devnet at ${devnet.url}`);
gw.events.on('event', (e) => console.log(`event ${e.tag}`, JSON.stringify(e.val, (_, v) => (typeof v === 'bigint' ? Number(v) : v))));

// JSON in, JSON out; bigints as numbers for the browser (game amounts fit easily).
const routes = {
  'POST /link': ({ user, account }) => gw.startLink(user, account, undefined),
  'POST /confirm': ({ user, code }) => gw.confirmLink(user, code),
  'GET /account': ({ user }) => gw.account(user),
  'POST /play': ({ user, delta, round }) => gw.adjustBalance(user, BigInt(delta), `round-${round}`, delta > 0 ? 'won a round' : 'lost a round'),
  'POST /withdraw': ({ user, game, key }) => gw.requestWithdrawal(user, { tag: 'game', val: BigInt(game) }, key),
};

const server = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  const route = routes[`${req.method} ${url.pathname}`];
  let body = '';
  for await (const c of req) body += c;
  const send = (status, v) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? Number(x) : x)));
  };
  if (!route) return send(404, { error: 'no such route' });
  try {
    send(200, await route({ ...Object.fromEntries(url.searchParams), ...(body ? JSON.parse(body) : {}) }));
  } catch (e) {
    if (e instanceof GatewayError) send(400, { error: e.code, detail: e.detail });
    else send(500, { error: String(e.message) });
  }
});
await new Promise((r) => server.listen(once ? 0 : port, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

async function shutdown() {
  server.close();
  await gw.close();
  devnet.stop();
}
process.on('SIGINT', () => shutdown().then(() => process.exit(0)));

if (!once) {
  console.log(`game server on ${base}; try:
  curl -XPOST ${base}/link -d '{"user":"alice","account":"alice-cwd"}'
  (the code is in alice-cwd's wallet: the devnet's control API reads it)
  curl '${base}/account?user=alice'`);
} else {
  // The whole story, by itself: link, deposit, play, withdraw.
  const call = async (method, path, body) => {
    const r = await fetch(`${base}${path}`, { method, body: body && JSON.stringify(body) });
    const v = await r.json();
    if (!r.ok) throw new Error(`${path}: ${JSON.stringify(v)}`);
    return v;
  };
  const control = async (method, params) => (await (await fetch(`${devnet.url}/devnet`, { method: 'POST', body: JSON.stringify({ id: 1, method, params }) })).json()).result;
  const wait = (name, pred) => new Promise((r) => gw.events.on(name, (v) => pred(v) && r(v)));
  await call('POST', '/link', { user: 'alice', account: 'alice-cwd' });
  let code;
  while (!code) {
    // The code reaches alice-cwd's wallet once its block is made.
    await new Promise((r) => setTimeout(r, 300));
    const inbox = await control('messages', { account: 'alice-cwd', memo_wif: devnet.accounts['alice-cwd'].memo_wif });
    code = inbox.map((m) => m.message?.match(/\b(\d{6})\b/)?.[1]).find(Boolean);
  }
  await call('POST', '/confirm', { user: 'alice', code });
  const credited = wait('deposit-credited', (d) => d.user === 'alice');
  await control('transfer', { from: 'alice-cwd', to: 'crowdwiz-gateway', amount: 10 * 100_000 });
  await credited;
  await call('POST', '/play', { user: 'alice', delta: 150, round: 1 });
  const paid = wait('withdrawal-confirmed', (w) => w.withdrawal.user === 'alice');
  await call('POST', '/withdraw', { user: 'alice', game: 500, key: 'w-1' });
  await paid;
  console.log('alice after the story:', await call('GET', '/account?user=alice'));
  await shutdown();
}
