// Two ways to run the component without ever blocking the event loop on its I/O:
// JSPI (`WebAssembly.Suspending`, Node >= 24): the component runs on the main thread and
// suspends at each store or node import until the backend's promise settles.
// Worker: the component runs in a worker thread (see worker.js).
// Both answer `call(iface, fn, args)` with `{ok}`, `{err}` (the WIT error) or `{trap}`.
import { Worker, MessageChannel } from 'node:worker_threads';
import { instantiateBuild, settle } from './load.js';
import { noSigner } from './host-imports.js';

export const jspiAvailable = typeof WebAssembly.Suspending === 'function' && typeof WebAssembly.promising === 'function';

function ownImports(host) {
  return {
    'crowdwiz:gateway/store': host.store,
    'crowdwiz:gateway/node': host.node,
    'crowdwiz:gateway/clock': host.clock,
    'crowdwiz:gateway/events': host.events,
    'crowdwiz:gateway/signer': noSigner,
  };
}

export async function jspiEngine(host, stderr) {
  const exports = await instantiateBuild('jspi', 'gateway', ownImports(host), stderr);
  return {
    mode: 'jspi',
    functions: { api: Object.keys(exports.api), codec: Object.keys(exports.codec) },
    call: (iface, fn, args) => settle(() => exports[iface][fn](...args)),
    close() {},
  };
}

/**
 * @param {object} host the imports from host-imports.js (run on this thread)
 * @param {{flavour?: string, name?: string}} [build] which jco build the worker loads
 */
export function workerEngine(host, stderr, { flavour = 'sync', name = 'gateway' } = {}) {
  const signal = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  // `env: {}`: the worker gets an empty process.env, on top of the WASI sandbox.
  const worker = new Worker(new URL('./worker.js', import.meta.url), {
    workerData: { flavour, name, signal, replyPort: port2 },
    transferList: [port2],
    env: {},
  });
  const pending = new Map();
  let nextId = 1;
  let dead;
  const fail = (why) => {
    dead = why;
    for (const resolve of pending.values()) resolve({ trap: why });
    pending.clear();
  };
  return new Promise((resolveEngine, rejectEngine) => {
    worker.on('error', (e) => {
      fail(`worker failed: ${e?.message ?? e}`);
      rejectEngine(e);
    });
    worker.on('exit', (code) => fail(`worker exited (${code})`));
    worker.on('message', async (msg) => {
      switch (msg.type) {
        case 'import': {
          // The worker sleeps until this answer: it must always come.
          try {
            port1.postMessage({ result: await host[msg.iface][msg.fn](...msg.args) });
          } catch (e) {
            port1.postMessage({ fault: String(e?.message ?? e) });
          }
          Atomics.store(signal, 0, 1);
          Atomics.notify(signal, 0);
          break;
        }
        case 'event':
          host.events.emit(msg.event);
          break;
        case 'stderr':
          stderr(msg.line);
          break;
        case 'result': {
          const resolve = pending.get(msg.id);
          pending.delete(msg.id);
          const { id, type, ...outcome } = msg;
          resolve?.(outcome);
          break;
        }
        case 'failed':
          rejectEngine(new Error(msg.error));
          worker.terminate();
          break;
        case 'ready':
          resolveEngine({
            mode: 'worker',
            functions: msg.functions,
            call(iface, fn, args) {
              if (dead) return Promise.resolve({ trap: dead });
              const id = nextId++;
              return new Promise((resolve) => {
                pending.set(id, resolve);
                worker.postMessage({ id, iface, fn, args });
              });
            },
            close() {
              dead ??= 'closed';
              port1.close();
              return worker.terminate();
            },
          });
          break;
      }
    });
  });
}
