// Compiled by test/types.test.js (tsc --noEmit): the package's types as a game uses them.
import { createGateway, memoryStore, GatewayError, type Event, type Withdrawal } from '../src/index.js';
import { createCodec, type Codec } from '../src/codec.js';
import { startDevnet } from '../src/devnet.js';

async function tools(): Promise<string> {
  const codec: Codec = await createCodec();
  const devnet = await startDevnet({ accounts: ['alice-cwd:10'], args: ['--block-seconds', '1'] });
  // @ts-expect-error accounts are keyed by name, each with its keys
  const wif: number = devnet.accounts['alice-cwd'].active_wif;
  void wif;
  devnet.stop();
  return codec.publicKeyOf(devnet.accounts['alice-cwd'].active_wif);
}
void tools;

async function game(): Promise<bigint> {
  const gw = await createGateway({ nodes: ['http://127.0.0.1:8090'], store: memoryStore(), mode: 'auto' });
  await gw.configure({ gatewayAccount: 'g', chainId: '00', depositRate: { gameUnits: 90n, perCwdUnits: 100000n }, withdrawalRate: { gameUnits: 1n, perCwdUnits: 1000n }, link: { codeDigits: 8 } }, { activeWif: 'x', memoWif: 'y' });
  gw.events.on('event', (e: Event) => e.tag);
  const w: Withdrawal = await gw.requestWithdrawal('alice', { tag: 'game', val: 10n }, 'k');
  const view = await gw.account('alice');
  // @ts-expect-error 64-bit values are bigint, not number
  void gw.adjustBalance('alice', 5, 'k3', 'r');
  // @ts-expect-error every gateway function answers a promise
  const sync: Withdrawal = gw.getWithdrawal('w-1');
  void sync;
  const pk: string = await gw.codec.publicKeyOf('5K…');
  void pk;
  try {
    await gw.adjustBalance('alice', -5n, 'k2', 'shop');
  } catch (e) {
    if (e instanceof GatewayError && e.code === 'insufficient-balance') return 0n;
  }
  await gw.close();
  return view.balance + w.game;
}
void game;
