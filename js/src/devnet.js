// A local devnet (a simulated CrowdWiz chain) as a child process, for a game's own tests
// and examples: the release's `cwd-gateway devnet`, or `cwd-devnet` from a checkout.
// Loopback only; the accounts it creates come with their keys (a throwaway chain).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync } from 'node:fs';
import { join, dirname, delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';

const checkout = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function onPath(name) {
  return (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, name)).find((p) => existsSync(p));
}

/**
 * Which program runs the devnet: `[command, leadingArgs]`. In order: `bin` (a
 * `cwd-gateway` binary), `$CWD_GATEWAY_BIN`, `$CWD_DEVNET_BIN` (a `cwd-devnet` binary), this
 * repository's `target/debug/cwd-devnet` when the package runs from a checkout, and
 * `cwd-gateway` on the PATH.
 */
export function devnetCommand(bin) {
  if (bin) return [bin, ['devnet']];
  if (process.env.CWD_GATEWAY_BIN) return [process.env.CWD_GATEWAY_BIN, ['devnet']];
  if (process.env.CWD_DEVNET_BIN) return [process.env.CWD_DEVNET_BIN, []];
  const built = join(checkout, 'target', 'debug', 'cwd-devnet');
  if (existsSync(built)) return [built, []];
  const installed = onPath('cwd-gateway');
  if (installed) return [installed, ['devnet']];
  throw new Error('no devnet to start: set CWD_GATEWAY_BIN to the release\'s cwd-gateway binary (or put it on the PATH), or run `cargo build -p cwd-devnet` in the repository');
}

/**
 * Starts a devnet on a free loopback port with the given accounts (`name` or
 * `name:CWD`) and further options (`--block-seconds`, `--lag`, `--manual`…), and resolves
 * once it has printed its URL, chain id and every account.
 */
export async function startDevnet({ accounts = [], args = [], bin } = {}) {
  const [command, lead] = devnetCommand(bin);
  const proc = spawn(command, [...lead, '--listen', '127.0.0.1:0', ...args, ...accounts.flatMap((a) => ['--account', a])], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  const spawnError = new Promise((_, reject) => proc.once('error', reject));
  const made = {};
  let url;
  let chainId;
  const read = (async () => {
    for await (const line of createInterface({ input: proc.stdout })) {
      if (line.startsWith('devnet JSON-RPC: ')) url = line.slice('devnet JSON-RPC: '.length).trim();
      else if (line.startsWith('chain id:')) chainId = line.split(':')[1].trim();
      else if (line.startsWith('{')) {
        const a = JSON.parse(line);
        made[a.name] = a;
      }
      if (url && chainId && Object.keys(made).length === accounts.length) return;
    }
    throw new Error(`${command} ${lead.join(' ')} closed its output before it was ready`);
  })();
  await Promise.race([read, spawnError, exited.then((code) => { throw new Error(`${command} ${lead.join(' ')} exited (${code}) before it was ready`); })]);
  let id = 1;
  const control = async (method, params = {}) => {
    const r = await fetch(`${url}/devnet`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: id++, method, params }) });
    const body = await r.json();
    if (body.error) throw new Error(`devnet ${method}: ${JSON.stringify(body.error)}`);
    return body.result;
  };
  return { url, chainId, accounts: made, control, stop: () => proc.kill() };
}
