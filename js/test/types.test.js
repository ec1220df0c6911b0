// The TypeScript types compile as a game uses them, and refuse what they must refuse
// (numbers for 64-bit values, results used without await): tsc over test/types-check.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// typescript comes with the package's dev dependencies; an installed copy finds it in
// the project that installed it.
let tsc;
try {
  tsc = join(dirname(createRequire(join(root, 'package.json')).resolve('typescript/package.json')), 'bin', 'tsc');
} catch {
  tsc = null;
}

test('the TypeScript types check', { timeout: 120_000, skip: !tsc && 'typescript is not installed (npm install typescript @types/node)' }, () => {
  assert.doesNotThrow(() => execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' }));
});
