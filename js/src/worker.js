// The worker-thread engine's other half (Node without JSPI): the component runs here with
// synchronous imports; each store, node and clock import is a request to the main
// thread, which runs the game's async backends, while this thread sleeps in Atomics.wait.
// The main thread's event loop never waits for the component or its I/O.
import { parentPort, workerData, receiveMessageOnPort } from 'node:worker_threads';
import { instantiateBuild, settle } from './load.js';
import { noSigner } from './host-imports.js';

const { flavour, name, signal, replyPort } = workerData;

function request(iface, fn, args) {
  Atomics.store(signal, 0, 0);
  parentPort.postMessage({ type: 'import', iface, fn, args });
  Atomics.wait(signal, 0, 0);
  const answer = receiveMessageOnPort(replyPort).message;
  if ('fault' in answer) throw new Error(`host import ${iface}.${fn} failed: ${answer.fault}`);
  return answer.result;
}

const remote = (iface, fns) => Object.fromEntries(fns.map((fn) => [fn, (...args) => request(iface, fn, args)]));
const own = {
  'crowdwiz:gateway/store': remote('store', ['get', 'scan', 'scanReverse', 'commit']),
  'crowdwiz:gateway/node': remote('node', ['call', 'failOver']),
  'crowdwiz:gateway/clock': remote('clock', ['nowMs']),
  'crowdwiz:gateway/events': { emit: (event) => parentPort.postMessage({ type: 'event', event }) },
  'crowdwiz:gateway/signer': noSigner,
};

let exports;
try {
  exports = await instantiateBuild(flavour, name, own, (line) => parentPort.postMessage({ type: 'stderr', line }));
  parentPort.postMessage({
    type: 'ready',
    functions: Object.fromEntries(['api', 'codec'].filter((i) => exports[i]).map((i) => [i, Object.keys(exports[i])])),
  });
} catch (e) {
  parentPort.postMessage({ type: 'failed', error: String(e?.stack ?? e) });
}

parentPort.on('message', ({ id, iface, fn, args }) => {
  const outcome = settle(() => exports[iface][fn](...args));
  parentPort.postMessage({ type: 'result', id, ...outcome });
});
