// Loading a jco build from gen/: compiled core modules are cached per process, so a
// re-instantiation (after a trap) costs an instantiate, not a compile.
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { wasiImports } from './wasi.js';

export const genRoot = join(dirname(fileURLToPath(import.meta.url)), '..', 'gen');
const compiled = new Map();

function coreModule(path) {
  if (!compiled.has(path)) compiled.set(path, readFile(path).then((bytes) => WebAssembly.compile(bytes)));
  return compiled.get(path);
}

/**
 * Instantiates gen/<flavour>/<name>.js with `own` imports (interface name without
 * version -> functions) plus the sandboxed WASI; returns jco's exports object.
 */
export async function instantiateBuild(flavour, name, own, stderr) {
  const dir = join(genRoot, flavour);
  let mod;
  try {
    mod = await import(pathToFileURL(join(dir, `${name}.js`)).href);
  } catch (e) {
    throw new Error(`the package's jco build is missing (${dir}): run \`npm run build\` in js/ after a cargo build (${e.message})`);
  }
  const base = { ...wasiImports(stderr), ...own };
  // jco's code looks imports up without a version, its types with one (jco #708): give both.
  const imports = { ...base };
  const dts = readFileSync(join(dir, `${name}.d.ts`), 'utf8');
  for (const [, key] of dts.matchAll(/'([^']+@[^']+)': typeof/g)) {
    const unversioned = key.slice(0, key.lastIndexOf('@'));
    if (base[unversioned]) imports[key] = base[unversioned];
  }
  return mod.instantiate((file) => coreModule(join(dir, file)), imports);
}

/** jco throws a `ComponentError` carrying `payload` for a result's err; anything else is a trap. */
export function settle(fn) {
  try {
    const value = fn();
    if (value && typeof value.then === 'function') {
      return value.then((ok) => ({ ok }), outcomeOfThrow);
    }
    return { ok: value };
  } catch (e) {
    return outcomeOfThrow(e);
  }
}

function outcomeOfThrow(e) {
  if (e && typeof e === 'object' && Object.prototype.hasOwnProperty.call(e, 'payload') && e.constructor?.name === 'ComponentError') {
    return { err: e.payload };
  }
  return { trap: `${e?.name ?? 'Error'}: ${e?.message ?? String(e)}` };
}
