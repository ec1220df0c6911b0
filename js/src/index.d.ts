// Types of @crowdwiz/gateway. The records, variants and enums are jco's, generated from
// the component's WIT at build time (gen/); every gateway function is async here (jco's
// JSPI build declares them synchronous). 64-bit integers are `bigint` throughout.
import type { EventEmitter } from 'node:events';
import type * as Api from '../gen/jspi/interfaces/crowdwiz-gateway-api.js';
import type * as CodecApi from '../gen/jspi/interfaces/crowdwiz-gateway-codec.js';
import type * as Store from '../gen/jspi/interfaces/crowdwiz-gateway-store.js';
import type * as Events from '../gen/jspi/interfaces/crowdwiz-gateway-events.js';
import type * as Node from '../gen/jspi/interfaces/crowdwiz-gateway-node.js';

export type * from '../gen/jspi/interfaces/crowdwiz-gateway-api.js';
export type { Event } from '../gen/jspi/interfaces/crowdwiz-gateway-events.js';
export type { Entry, Precondition, Write, CommitOutcome } from '../gen/jspi/interfaces/crowdwiz-gateway-store.js';
export type { NodeError as NodeErrorPayload } from '../gen/jspi/interfaces/crowdwiz-gateway-node.js';

type Promised<T> = { [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<R> : never };

/** The component's api functions, async. */
export type GatewayApi = Promised<Omit<typeof Api, 'configure'>>;
/** The codec functions: async on a gateway, synchronous from `createCodec`. */
export type AsyncCodec = Promised<typeof CodecApi>;
export type Codec = typeof CodecApi & { component: 'codec' | 'gateway' };

/** A store backend (wit/store.wit); methods may answer promises. Throwing = unavailable. */
export interface StoreBackend {
  get(key: string): Store.Entry | undefined | Promise<Store.Entry | undefined>;
  scan(prefix: string, startAfter: string | undefined, limit: number): Store.Entry[] | Promise<Store.Entry[]>;
  /** Descending by key: the prefix's keys below `startBefore` (listings newest first). */
  scanReverse(prefix: string, startBefore: string | undefined, limit: number): Store.Entry[] | Promise<Store.Entry[]>;
  commit(preconditions: Store.Precondition[], writes: Store.Write[]): Store.CommitOutcome | Promise<Store.CommitOutcome>;
}

/** A node backend: `call` answers the `result` member as the node's JSON text, untouched. */
export interface NodeBackend {
  call(api: string, method: string, paramsJson: string): Promise<string>;
  failOver?(reason: string): boolean | Promise<boolean>;
}

/** A configuration where zero or absent fields take their defaults (wit/api.wit). */
export type ConfigInput = Omit<Api.Config, 'link' | 'withdrawals' | 'lowFeeBalanceCwd' | 'tickIntervalMs' | 'idempotencyWindowMs' | 'treasury' | 'referrals' | 'events' | 'texts'> & {
  link?: Partial<Api.LinkConfig>;
  withdrawals?: Partial<Api.WithdrawalConfig>;
  lowFeeBalanceCwd?: bigint;
  tickIntervalMs?: bigint;
  idempotencyWindowMs?: bigint;
  treasury?: Partial<Api.TreasuryConfig>;
  referrals?: Partial<Api.ReferralConfig>;
  events?: Partial<Api.EventConfig>;
  texts?: Partial<Api.PlayerTexts>;
};

export interface GatewayOptions {
  /** Node URLs (JSON-RPC over HTTP, tried in order), or your own backend. */
  nodes: string[] | NodeBackend;
  store: StoreBackend;
  config?: ConfigInput;
  keys?: Api.Keys;
  /** Receives 'event' (every Event), each event's tag with its value, 'tick', 'tick-error'. */
  events?: EventEmitter;
  /** Milliseconds since the epoch (default Date.now). */
  clock?: () => number | bigint;
  /** 'auto' (default): JSPI where WebAssembly.Suspending exists, else a worker thread. */
  mode?: 'auto' | 'jspi' | 'worker';
  /** Tick on the component's `next-tick-ms` after configure (default true). */
  autoTick?: boolean;
  /** Per request, for `nodes` given as URLs (default 10000). */
  nodeTimeoutMs?: number;
  /** Warnings (default process.emitWarning). Never given a key. */
  log?: (line: string) => void;
}

export interface Gateway extends GatewayApi {
  readonly mode: 'jspi' | 'worker';
  readonly events: EventEmitter;
  readonly codec: AsyncCodec;
  /** Instances made so far (1, plus one after each trap). */
  readonly instantiations: number;
  configure(config: ConfigInput, keys: Api.Keys): Promise<Api.GatewayInfo>;
  close(): Promise<void>;
}

export function createGateway(options: GatewayOptions): Promise<Gateway>;
export function createCodec(options?: { stderr?: (line: string) => void }): Promise<Codec>;
export const codecComponent: 'codec' | 'gateway';
export const jspiAvailable: boolean;
export function withDefaults(config: ConfigInput): Api.Config;
export function memoryStore(): StoreBackend;
export function sqliteStore(path: string): Promise<StoreBackend & { close(): void }>;

export class GatewayError extends Error {
  readonly code: Api.GatewayError['tag'];
  readonly detail: unknown;
  readonly payload: Api.GatewayError;
}
export class CodecError extends Error {
  readonly code: CodecApi.CodecError['tag'];
  readonly detail: unknown;
  readonly payload: CodecApi.CodecError;
}
export class GatewayTrap extends Error {}
export class ComponentExit extends Error {}
export class NodeError extends Error {
  constructor(payload: Node.NodeError);
  readonly payload: Node.NodeError;
}
export class JsonRpcNodes implements NodeBackend {
  constructor(urls: string[], options?: { timeoutMs?: number; log?: (line: string) => void });
  call(api: string, method: string, paramsJson: string): Promise<string>;
  failOver(reason: string): boolean;
}
export type { Events };
