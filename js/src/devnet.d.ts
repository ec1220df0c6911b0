/** A devnet account, as `cwd-gateway devnet --account` prints it (with its keys). */
export interface DevnetAccount {
  name: string;
  id: string;
  owner_key: string;
  active_key: string;
  memo_key: string;
  owner_wif: string;
  active_wif: string;
  memo_wif: string;
  [field: string]: unknown;
}

export interface Devnet {
  /** JSON-RPC over HTTP (POST /). */
  url: string;
  chainId: string;
  accounts: Record<string, DevnetAccount>;
  /** The control API (POST /devnet): produce blocks, transfers, faults (devnet/README.md). */
  control(method: string, params?: Record<string, unknown>): Promise<unknown>;
  stop(): void;
}

/** `[command, leadingArgs]` of the program that runs the devnet. */
export function devnetCommand(bin?: string): [string, string[]];

export function startDevnet(options?: {
  /** `name` or `name:CWD`. */
  accounts?: string[];
  /** Further options: `--block-seconds`, `--lag`, `--manual`, `--seed`… */
  args?: string[];
  /** A `cwd-gateway` binary (else $CWD_GATEWAY_BIN, $CWD_DEVNET_BIN, a checkout's build, the PATH). */
  bin?: string;
}): Promise<Devnet>;
