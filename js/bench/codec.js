// Figures for the package, beside the Rust host's, in one run:
// - instantiate time: first instance (compile + instantiate) and a re-instantiation;
// - codec calls per second: one `transfer` with an encrypted memo, memo encrypted,
//   serialized and signed (the work of host/benches/codec.rs, same inputs), through the
//   codec-only component and through the gateway component, then the Rust host's bench.
//
//   node bench/codec.js [iterations]        (run from js/, after npm run build)
import { execFileSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { instantiateBuild } from '../src/load.js';
import { noSigner } from '../src/host-imports.js';
import { createCodec, codecComponent } from '../src/codec.js';

const iterations = Number(process.argv[2] ?? 300);
const FROM_WIF = '5JyZhmF9Fo9QYjv4CgR8z3MEQ4RTTTsHohwUR4BmPUr7AkEi9YB';
const TO_PUB = 'CWD5DE9SBYtrLo3BuVHaq6eEhG8pBTJxejYzKoxWKD81bXHaVNrTP';
const FROM_PUB = 'CWD8MHcLaUeqxeCrGBoEmEbu3FKE5JCY11zovwfcddmVkTkxVj9YL';
const CHAIN = '4bb7d961ed2ed1b2b618711b1bd4d8d905abe061fcb9c79d1ba15468eadfa998';
const tx = (memo, nonce) => JSON.stringify({
  ref_block_num: 37134, ref_block_prefix: 1592350392, expiration: '2026-11-17T00:22:44',
  operations: [[0, {
    fee: { amount: 130779, asset_id: '1.3.0' }, from: '1.2.2060514', to: '1.2.1819833',
    amount: { amount: '488912486335', asset_id: '1.3.0' },
    memo: { from: FROM_PUB, to: TO_PUB, nonce: String(nonce), message: memo }, extensions: [],
  }]],
  extensions: [],
});

function perSecond(codec) {
  const work = (nonce) => codec.signTransaction(tx(codec.memoEncrypt(FROM_WIF, TO_PUB, nonce, 'withdrawal w-7').messageHex, nonce), FROM_WIF, CHAIN);
  for (let i = 0; i < iterations / 10 + 1; i++) work(18446744073709551615n - BigInt(i));
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) work(BigInt(i));
  const ms = (performance.now() - t0) / iterations;
  return { us: ms * 1000, perSecond: 1000 / ms };
}

const refuse = () => ({ tag: 'err', val: { tag: 'unavailable', val: 'bench' } });
const gatewayImports = {
  'crowdwiz:gateway/store': { get: refuse, scan: refuse, commit: refuse },
  'crowdwiz:gateway/node': { call: () => ({ tag: 'err', val: { tag: 'unreachable', val: 'bench' } }), failOver: () => false },
  'crowdwiz:gateway/clock': { nowMs: () => BigInt(Date.now()) },
  'crowdwiz:gateway/events': { emit: () => {} },
  'crowdwiz:gateway/signer': noSigner,
};
async function timeInstantiate(flavour, name, own) {
  let t0 = performance.now();
  const first = await instantiateBuild(flavour, name, own, () => {});
  const firstMs = performance.now() - t0;
  t0 = performance.now();
  await instantiateBuild(flavour, name, own, () => {});
  return { first, firstMs, againMs: performance.now() - t0 };
}

console.log(`Node ${process.version}, ${iterations} iterations each`);
const gw = await timeInstantiate('sync', 'gateway', gatewayImports);
console.log(`instantiate gateway component: first ${gw.firstMs.toFixed(1)} ms (compile + instantiate), again ${gw.againMs.toFixed(1)} ms`);
if (codecComponent === 'codec') {
  const c = await timeInstantiate('codec', 'codec', {});
  console.log(`instantiate codec-only component: first ${c.firstMs.toFixed(1)} ms, again ${c.againMs.toFixed(1)} ms`);
}
const viaGateway = perSecond(gw.first.codec);
const viaCodec = perSecond(await createCodec());
const check = await createCodec();
if (check.signTransaction(tx(check.memoEncrypt(FROM_WIF, TO_PUB, 7n, 'withdrawal w-7').messageHex, 7), FROM_WIF, CHAIN) !== gw.first.codec.signTransaction(tx(gw.first.codec.memoEncrypt(FROM_WIF, TO_PUB, 7n, 'withdrawal w-7').messageHex, 7), FROM_WIF, CHAIN)) {
  throw new Error('the two components disagree');
}
{
  // The crossing itself: a call with a string answer and nothing to compute.
  const c = await createCodec();
  for (let i = 0; i < 1000; i++) c.mainChainId();
  const t0 = performance.now();
  for (let i = 0; i < 20000; i++) c.mainChainId();
  console.log(`a trivial codec call (main-chain-id): ${(((performance.now() - t0) / 20000) * 1000).toFixed(2)} µs`);
}
console.log('transfer + encrypted memo, serialize and sign (mean per transfer):');
console.log(`  Node, ${codecComponent === "codec" ? "codec-only component" : "codec via gateway   "}  ${viaCodec.us.toFixed(1)} µs  (${viaCodec.perSecond.toFixed(0)}/s)`);
console.log(`  Node, gateway component      ${viaGateway.us.toFixed(1)} µs  (${viaGateway.perSecond.toFixed(0)}/s)`);
if (!process.env.CWD_BENCH_NO_RUST) {
  const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  // The Rust host's own bench, same inputs; the dev profile is enough: the component is
  // compiled by cranelift either way (only the `native` line depends on the profile).
  const out = execFileSync('cargo', ['bench', '-q', '-p', 'cwd-gateway', '--bench', 'codec', '--profile', 'dev', '--', String(iterations)], { cwd: repo, encoding: 'utf8' });
  console.log(`Rust host (wasmtime), same run:\n${out.trimEnd()}`);
}
