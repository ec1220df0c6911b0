// Test support: a devnet process (the `cwd-devnet` binary) started and stopped by the
// test, on loopback only.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const devnetBin = process.env.CWD_DEVNET_BIN ?? join(repo, 'target', 'debug', 'cwd-devnet');
// JSON.parse would round the 64-bit integers (memo nonces): they become decimal strings,
// which the codec takes for any 64-bit field (wit/codec.wit).
export const vectors = JSON.parse(readFileSync(join(repo, 'tests', 'vectors', 'crowdwiz-public.json'), 'utf8').replace(/([:\[,]\s*)(\d{16,})(?=\s*[,\]}])/g, '$1"$2"'));
export const GATEWAY = 'crowdwiz-gateway';

export async function startDevnet(args = []) {
  const proc = spawn(devnetBin, ['--listen', '127.0.0.1:0', ...args, '--account', `${GATEWAY}:1000`, '--account', 'alice-cwd:500'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const accounts = {};
  let url;
  let chainId;
  for await (const line of createInterface({ input: proc.stdout })) {
    if (line.startsWith('devnet JSON-RPC: ')) url = line.slice('devnet JSON-RPC: '.length).trim();
    else if (line.startsWith('chain id:')) chainId = line.split(':')[1].trim();
    else if (line.startsWith('{')) {
      const a = JSON.parse(line);
      accounts[a.name] = a;
      if (Object.keys(accounts).length === 2) break;
    }
  }
  if (!url) throw new Error(`${devnetBin} did not start`);
  let id = 1;
  const control = async (method, params = {}) => {
    const r = await fetch(`${url}/devnet`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: id++, method, params }) });
    const body = await r.json();
    if (body.error) throw new Error(`devnet ${method}: ${JSON.stringify(body.error)}`);
    return body.result;
  };
  return { url, chainId, accounts, control, stop: () => proc.kill() };
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
