// @crowdwiz/gateway: the CrowdWiz gateway component (the .wasm the Rust host embeds) for
// Node.js game servers. See README.md.
import { EventEmitter } from 'node:events';
import { hostImports } from './host-imports.js';
import { jspiAvailable, jspiEngine, workerEngine } from './engines.js';
import { JsonRpcNodes } from './node-rpc.js';
import { CodecError } from './codec.js';

export { memoryStore, sqliteStore } from './stores.js';
export { JsonRpcNodes, NodeError } from './node-rpc.js';
export { ComponentExit } from './wasi.js';
export { createCodec, CodecError, codecComponent } from './codec.js';
export { jspiAvailable };

const jsonText = (v) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x.toString() : x));

/** A gateway call answered one of its WIT errors (`code` is the case, `detail` its value). */
export class GatewayError extends Error {
  constructor(payload, fn) {
    super(`${fn}: ${payload.tag}${payload.val !== undefined ? ` ${jsonText(payload.val)}` : ''}`);
    this.name = 'GatewayError';
    this.code = payload.tag;
    this.detail = payload.val;
    this.payload = payload;
  }
}

/**
 * The component trapped: that instance is discarded; the next call runs on a new one
 * (configured again with the last configuration). Whatever the call committed stays.
 */
export class GatewayTrap extends Error {
  constructor(detail, fn) {
    super(`${fn}: the component trapped (${detail}); its instance was discarded`);
    this.name = 'GatewayTrap';
  }
}

const DEFAULT_LINK = { codeDigits: 0, codeTtlMs: 0n, maxAttempts: 0, messageTemplate: '', userIntervalMs: 0n, userDaily: 0, accountDaily: 0, globalDaily: 0, powBits: 0 };
const DEFAULT_WITHDRAWALS = { minCwd: 0n, maxCwd: 0n, dailyCwd: 0n, reviewAboveCwd: 0n, fourEyesAboveCwd: 0n, dailyCount: 0, feeCwd: 0n, expirationSecs: 0, maxAttempts: 0 };
const DEFAULT_TREASURY = { coldAccount: '', highWaterCwd: 0n, lowWaterCwd: 0n, feeReserveCwd: 0n, lowFeeDays: 0, minSweepCwd: 0n, maxTransferFeeCwd: 0n, maxMessageFeeCwd: 0n };
const DEFAULT_REFERRALS = { levelRatesPerMille: [], cashbackPerMille: 0, poolUser: '' };
const DEFAULT_EVENTS = { retentionMs: 0n, webhookGiveUpMs: 0n, webhookMaxIntervalMs: 0n, liveOnly: false };

/** A full `config` from the fields given; zero means "the default" (see wit/api.wit). */
export function withDefaults(config) {
  return {
    lowFeeBalanceCwd: 0n,
    tickIntervalMs: 0n,
    idempotencyWindowMs: 0n,
    ...config,
    link: { ...DEFAULT_LINK, ...config.link },
    withdrawals: { ...DEFAULT_WITHDRAWALS, ...config.withdrawals },
    treasury: { ...DEFAULT_TREASURY, ...config.treasury },
    referrals: { ...DEFAULT_REFERRALS, ...config.referrals },
    events: { ...DEFAULT_EVENTS, ...config.events },
    texts: { linkMessages: [], depositNotes: [], ...config.texts },
  };
}

const camel = (s) => s.replace(/-([a-z])/g, (_, c) => c.toUpperCase());

class Gateway {
  constructor(options) {
    const { nodes, store, events, clock, mode = 'auto', autoTick = true, nodeTimeoutMs, log } = options;
    if (!store) throw new TypeError('createGateway: give a store (memoryStore(), await sqliteStore(path), or your own)');
    if (!nodes) throw new TypeError('createGateway: give nodes (URLs, or an object with call/failOver)');
    this.events = events ?? new EventEmitter();
    this.log = log ?? ((line) => process.emitWarning(line, 'CrowdWizGateway'));
    this.node = Array.isArray(nodes) ? new JsonRpcNodes(nodes, { timeoutMs: nodeTimeoutMs, log: this.log }) : nodes;
    this.host = hostImports({
      store,
      node: this.node,
      clock,
      onEvent: (e) => {
        this.events.emit('event', e);
        this.events.emit(e.tag, e.val);
      },
      log: this.log,
    });
    if (mode === 'jspi' && !jspiAvailable) throw new Error(`mode 'jspi' needs WebAssembly.Suspending (Node >= 24); this is ${process.version}`);
    this.mode = mode === 'auto' ? (jspiAvailable ? 'jspi' : 'worker') : mode;
    this.autoTick = autoTick;
    this.queue = Promise.resolve();
    this.engine = null;
    this.configured = null; // [config, keys] of the last successful configure
    this.closed = false;
    this.timer = null;
    this.instantiations = 0;
    this.codec = {};
  }

  async instantiate() {
    const stderr = (line) => this.log(`component: ${line}`);
    this.engine = this.mode === 'jspi' ? await jspiEngine(this.host, stderr) : await workerEngine(this.host, stderr);
    this.instantiations++;
    if (this.configured) {
      const out = await this.engine.call('api', 'configure', this.configured);
      if (!out.ok) {
        await this.discard();
        throw out.err ? new GatewayError(out.err, 'configure (after re-instantiation)') : new GatewayTrap(out.trap, 'configure');
      }
    }
  }

  async discard() {
    const engine = this.engine;
    this.engine = null;
    await engine?.close();
  }

  // One call at a time per instance (imports may suspend; the component is not re-entrant).
  run(iface, fn, args) {
    const result = this.queue.then(async () => {
      if (this.closed) throw new Error('the gateway is closed');
      if (!this.engine) await this.instantiate();
      const out = await this.engine.call(iface, fn, args);
      if ('ok' in out) return out.ok;
      if ('err' in out) throw iface === 'codec' ? new CodecError(out.err, fn) : new GatewayError(out.err, fn);
      await this.discard();
      throw new GatewayTrap(out.trap, fn);
    });
    this.queue = result.catch(() => {});
    return result;
  }

  bind(functions) {
    for (const fn of functions.api) {
      if (fn !== 'configure') this[fn] = (...args) => this.run('api', fn, args);
    }
    for (const fn of functions.codec) this.codec[fn] = (...args) => this.run('codec', fn, args);
  }

  /** Validates and applies the configuration and keys (see `api.configure`); starts the timer. */
  async configure(config, keys) {
    const args = [withDefaults(config), { activeWif: keys.activeWif, memoWif: keys.memoWif }];
    const info = await this.run('api', 'configure', args);
    this.configured = args;
    if (this.autoTick) this.schedule(0);
    return info;
  }

  schedule(ms) {
    clearTimeout(this.timer);
    if (this.closed) return;
    this.timer = setTimeout(() => this.runTick(), Math.max(0, Math.min(Number(ms), 2 ** 31 - 1)));
  }

  async runTick() {
    try {
      const report = await this.tick();
      this.events.emit('tick', report);
      this.schedule(report.nextTickMs);
    } catch (e) {
      this.events.emit('tick-error', e);
      this.schedule(this.configured?.[0].tickIntervalMs || 60_000);
    }
  }

  /** Stops the timer and the instance (a worker thread, if any). */
  async close() {
    this.closed = true;
    clearTimeout(this.timer);
    await this.queue;
    await this.discard();
  }
}

/**
 * Instantiates the component and, when `config` and `keys` are given, configures it and
 * starts its timer. Every api function is on the answer as an async method (camelCase).
 * @type {import('./index.d.ts').createGateway}
 */
export async function createGateway(options) {
  const gw = new Gateway(options);
  await gw.instantiate();
  gw.bind(gw.engine.functions);
  if (options.config) {
    if (!options.keys) throw new TypeError('createGateway: config without keys');
    try {
      await gw.configure(options.config, options.keys);
    } catch (e) {
      await gw.close();
      throw e;
    }
  }
  return gw;
}
