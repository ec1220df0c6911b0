// Before `npm pack`/`npm publish`: the tarball carries the jco build and what its own
// tests need (the reference vectors), so it installs and tests without Rust.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (!existsSync(join(root, 'gen', 'component.json'))) {
  console.error('no jco build in gen/: run `cargo build -p cwd-gateway` in the repository, then `npm run build` here');
  process.exit(1);
}
mkdirSync(join(root, 'test', 'vectors'), { recursive: true });
copyFileSync(join(root, '..', 'tests', 'vectors', 'crowdwiz-public.json'), join(root, 'test', 'vectors', 'crowdwiz-public.json'));
