// The codec alone (keys, memos, transactions, signatures): pure functions, called
// synchronously on the calling thread. Loads the codec-only component when the package
// was built with it (no store, node, clock or events imports), else the gateway
// component with imports that refuse every use (the codec never calls them).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { instantiateBuild, genRoot, settle } from './load.js';
import { noSigner } from './host-imports.js';

export class CodecError extends Error {
  constructor(payload, fn) {
    super(`${fn}: ${payload.tag}${payload.val !== undefined ? ` ${JSON.stringify(payload.val, (_, x) => (typeof x === 'bigint' ? x.toString() : x))}` : ''}`);
    this.name = 'CodecError';
    this.code = payload.tag;
    this.detail = payload.val;
    this.payload = payload;
  }
}

const refuse = { tag: 'err', val: { tag: 'unavailable', val: 'the codec has no store' } };
const gatewayImports = {
  'crowdwiz:gateway/store': { get: () => refuse, scan: () => refuse, scanReverse: () => refuse, commit: () => refuse },
  'crowdwiz:gateway/node': { call: () => ({ tag: 'err', val: { tag: 'unreachable', val: 'the codec has no node' } }), failOver: () => false },
  'crowdwiz:gateway/clock': { nowMs: () => BigInt(Date.now()) },
  'crowdwiz:gateway/events': { emit: () => {} },
  'crowdwiz:gateway/signer': noSigner,
};

/** Which component `createCodec` loads: 'codec' (the codec-only one) or 'gateway'. */
export const codecComponent = existsSync(join(genRoot, 'codec', 'codec.js')) ? 'codec' : 'gateway';

/**
 * @param {{stderr?: (line: string) => void}} [options]
 * @returns {Promise<import('./codec.d.ts').Codec>}
 */
export async function createCodec({ stderr = (line) => process.emitWarning(`component: ${line}`) } = {}) {
  const exports = codecComponent === 'codec'
    ? await instantiateBuild('codec', 'codec', {}, stderr)
    : await instantiateBuild('sync', 'gateway', gatewayImports, stderr);
  const codec = { component: codecComponent };
  for (const [fn, f] of Object.entries(exports.codec)) {
    codec[fn] = (...args) => {
      const out = settle(() => f(...args));
      if ('ok' in out) return out.ok;
      if ('err' in out) throw new CodecError(out.err, fn);
      throw new Error(`${fn}: the component trapped (${out.trap})`);
    };
  }
  return codec;
}
