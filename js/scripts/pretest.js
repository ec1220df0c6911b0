// Before `npm test`: says exactly what is missing and how to make it, instead of a
// dozen failing tests. From a release tarball nothing is missing but the devnet binary.
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { devnetCommand } from '../src/devnet.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const checkout = existsSync(join(root, '..', 'Cargo.toml'));
const missing = [];
if (!existsSync(join(root, 'gen', 'component.json'))) {
  missing.push(checkout
    ? 'the jco build (gen/): run `cargo build -p cwd-gateway` in the repository, then `npm install && npm run build` here'
    : 'the jco build (gen/): this copy of the package is incomplete; install it from the release tarball');
}
try {
  devnetCommand();
} catch {
  missing.push(checkout
    ? 'a devnet: run `cargo build -p cwd-devnet` in the repository, or set CWD_GATEWAY_BIN to a release\'s cwd-gateway'
    : 'a devnet: set CWD_GATEWAY_BIN to the release\'s cwd-gateway binary (dist/cwd-gateway-<version>-x86_64-linux-musl), or put cwd-gateway on the PATH');
}
if (missing.length) {
  console.error(`npm test needs:\n${missing.map((m) => `  - ${m}`).join('\n')}`);
  process.exit(1);
}
