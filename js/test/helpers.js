// Test support: a devnet process started and stopped by the test, on loopback only
// (src/devnet.js: the release's `cwd-gateway devnet` through $CWD_GATEWAY_BIN, or a
// checkout's `cwd-devnet`), and the reference vectors (packed into test/vectors by
// `npm pack`, read from the repository in a checkout).
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync, readFileSync } from 'node:fs';
import { startDevnet as start } from '../src/devnet.js';

const here = dirname(fileURLToPath(import.meta.url));
const packed = join(here, 'vectors', 'crowdwiz-public.json');
const vectorsFile = existsSync(packed) ? packed : join(here, '..', '..', 'tests', 'vectors', 'crowdwiz-public.json');
// JSON.parse would round the 64-bit integers (memo nonces): they become decimal strings,
// which the codec takes for any 64-bit field (wit/codec.wit).
export const vectors = JSON.parse(readFileSync(vectorsFile, 'utf8').replace(/([:\[,]\s*)(\d{16,})(?=\s*[,\]}])/g, '$1"$2"'));
export const GATEWAY = 'crowdwiz-gateway';

export function startDevnet(args = []) {
  return start({ args, accounts: [`${GATEWAY}:1000`, 'alice-cwd:500'] });
}

export function gatewayConfig(devnet, extra = {}) {
  return {
    gatewayAccount: GATEWAY,
    chainId: devnet.chainId,
    depositRate: { gameUnits: 90n, perCwdUnits: 100_000n },
    withdrawalRate: { gameUnits: 100n, perCwdUnits: 100_000n },
    tickIntervalMs: 500n,
    ...extra,
  };
}

export function gatewayKeys(devnet) {
  const a = devnet.accounts[GATEWAY];
  return { activeWif: a.active_wif, memoWif: a.memo_wif };
}

/** Resolves with the first `name` event whose value satisfies `pred`. */
export function nextEvent(emitter, name, pred = () => true, timeoutMs = 30_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${name} event within ${timeoutMs} ms`)), timeoutMs);
    const on = (v) => {
      if (pred(v)) {
        clearTimeout(timer);
        emitter.off(name, on);
        resolve(v);
      }
    };
    emitter.on(name, on);
  });
}

export const mode = process.env.CWD_JS_MODE ?? 'auto';
