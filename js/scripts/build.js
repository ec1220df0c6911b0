// Transpiles the gateway component (the same .wasm the Rust host embeds) with jco:
// gen/jspi for Node with JSPI (`WebAssembly.Suspending`, Node >= 24): async store and
// node imports, async api exports; gen/sync for the worker-thread fallback (Node 20/22).
// The codec-only component, when built, goes to gen/codec.
//
//   node scripts/build.js [gateway.wasm] [codec.wasm]
// Defaults: ../target/guest/wasm32-wasip2/release/cwd_gateway_guest.wasm (a host build makes it)
// and ../target/guest/wasm32-wasip2/codec-component/cwd_codec_component.wasm.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const repo = resolve(root, '..');
const gatewayWasm = resolve(process.argv[2] ?? process.env.CWD_GATEWAY_WASM ?? join(repo, 'target/guest/wasm32-wasip2/release/cwd_gateway_guest.wasm'));
const codecWasm = resolve(process.argv[3] ?? process.env.CWD_CODEC_WASM ?? join(repo, 'target/guest/wasm32-wasip2/codec-component/cwd_codec_component.wasm'));
const jco = join(root, 'node_modules/@bytecodealliance/jco/dist/jco.js');

function run(args) {
  execFileSync(process.execPath, [jco, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
}

// The api functions, read from the component itself (through the synchronous build's
// types): each becomes an async export.
function apiFunctions(syncDir) {
  const dts = readFileSync(join(syncDir, 'interfaces/crowdwiz-gateway-api.d.ts'), 'utf8');
  return [...dts.matchAll(/^export function ([A-Za-z0-9]+)\(/gm)].map((m) => m[1].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`));
}

if (!existsSync(gatewayWasm)) {
  console.error(`no component at ${gatewayWasm}: build the host first (cargo build), or pass its path`);
  process.exit(1);
}
const gen = join(root, 'gen');
rmSync(gen, { recursive: true, force: true });
mkdirSync(gen);
const common = ['--instantiation', 'async', '--no-nodejs-compat', '-q'];
run(['transpile', gatewayWasm, '-o', join(gen, 'sync'), '--name', 'gateway', ...common]);
const asyncImports = ['store#get', 'store#scan', 'store#commit', 'node#call', 'node#fail-over'].map((f) => `crowdwiz:gateway/${f}`);
const asyncExports = apiFunctions(join(gen, 'sync')).map((f) => `crowdwiz:gateway/api#${f}`);
run(['transpile', gatewayWasm, '-o', join(gen, 'jspi'), '--name', 'gateway', ...common,
  '--async-mode', 'jspi', '--async-imports', ...asyncImports, '--async-exports', ...asyncExports]);
if (existsSync(codecWasm)) {
  run(['transpile', codecWasm, '-o', join(gen, 'codec'), '--name', 'codec', ...common]);
} else {
  console.error(`note: no codec-only component at ${codecWasm}; the codec entry point loads the gateway component`);
}
// What gen/ was made from: the release checks the digest against `cwd-gateway --version`,
// the tests the codec component's size.
const source = (file) => {
  const bytes = readFileSync(file);
  return { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
};
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
writeFileSync(join(gen, 'component.json'), `${JSON.stringify({
  version: pkg.version,
  gateway: source(gatewayWasm),
  codec: existsSync(codecWasm) ? source(codecWasm) : null,
}, null, 2)}\n`);
console.log(`gen/ built from ${gatewayWasm} (${asyncExports.length} async exports)`);
