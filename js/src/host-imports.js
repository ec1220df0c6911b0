// The component's imports over the game's backends. Every function answers the WIT
// result (`{tag: 'ok' | 'err', val}`) and never throws: a backend that throws becomes the
// import's error variant, so the component's call carries on and reports it.
import { NodeError } from './node-rpc.js';

const ok = (val) => ({ tag: 'ok', val });

/** The `signer` import of a host that gives the gateway its active key: never asked. */
export const noSigner = {
  sign: () => ({ tag: 'err', val: { tag: 'unavailable', val: 'this host has no signer: configure the gateway with its active key' } }),
};
const message = (e) => String(e?.message ?? e);

/**
 * @param {{store: object, node: object, clock?: () => number | bigint, onEvent: (e: object) => void, log: (line: string) => void}} backends
 */
export function hostImports({ store, node, clock, onEvent, log }) {
  const storeErr = (what, e) => {
    log(`store ${what} failed: ${message(e)}`);
    return { tag: 'err', val: { tag: 'unavailable', val: message(e) } };
  };
  return {
    store: {
      async get(key) {
        try {
          return ok((await store.get(key)) ?? undefined);
        } catch (e) {
          return storeErr('get', e);
        }
      },
      async scan(prefix, startAfter, limit) {
        try {
          return ok(await store.scan(prefix, startAfter ?? undefined, limit));
        } catch (e) {
          return storeErr('scan', e);
        }
      },
      async scanReverse(prefix, startBefore, limit) {
        try {
          return ok(await store.scanReverse(prefix, startBefore ?? undefined, limit));
        } catch (e) {
          return storeErr('scan-reverse', e);
        }
      },
      async commit(preconditions, writes) {
        try {
          const outcome = await store.commit(preconditions, writes);
          if (outcome !== 'committed' && outcome !== 'conflict') throw new TypeError(`commit answered ${String(outcome)}, not 'committed' or 'conflict'`);
          return ok(outcome);
        } catch (e) {
          return storeErr('commit', e);
        }
      },
    },
    node: {
      async call(api, method, paramsJson) {
        try {
          const text = await node.call(api, method, paramsJson);
          if (typeof text !== 'string') throw new TypeError('a node backend answers the result as JSON text');
          return ok(text);
        } catch (e) {
          if (e instanceof NodeError || (e?.payload && typeof e.payload.tag === 'string')) return { tag: 'err', val: e.payload };
          return { tag: 'err', val: { tag: 'unreachable', val: message(e) } };
        }
      },
      async failOver(reason) {
        try {
          return Boolean(await node.failOver?.(reason));
        } catch (e) {
          log(`node fail-over failed: ${message(e)}`);
          return false;
        }
      },
    },
    clock: {
      nowMs() {
        try {
          return BigInt(clock ? clock() : Date.now());
        } catch (e) {
          log(`clock failed: ${message(e)}; using Date.now()`);
          return BigInt(Date.now());
        }
      },
    },
    events: {
      emit(event) {
        try {
          onEvent(event);
        } catch (e) {
          // Events are best effort: a failing listener never fails the component's call.
          log(`an event listener threw: ${message(e)}`);
        }
      },
    },
  };
}
