// The WASI the component gets: randomness and stderr, nothing else. No environment
// variables (a host's process.env may hold CWD_GATEWAY_ACTIVE_WIF), no arguments, no
// working directory, no filesystem (the component imports none), no stdin, and an `exit`
// that throws instead of ending the game server (the instance is then discarded).
import { getRandomValues } from 'node:crypto';

/** Thrown by the component's `wasi:cli/exit`: the call is abandoned, the process lives. */
export class ComponentExit extends Error {
  constructor(status) {
    super(`the component asked to exit (${status?.tag ?? 'unknown'}); its instance is discarded`);
    this.name = 'ComponentExit';
  }
}

class IoError {
  toDebugString() {
    return 'stream error';
  }
}

class Pollable {
  ready() {
    return true;
  }
  block() {}
}

class InputStream {
  read() {
    throw { tag: 'closed' };
  }
  blockingRead() {
    throw { tag: 'closed' };
  }
  subscribe() {
    return new Pollable();
  }
}

// Lines the component writes (a Rust panic message) go to `sink`, whole lines at a time.
class OutputStream {
  constructor(sink) {
    this.sink = sink;
    this.pending = '';
    this.decoder = new TextDecoder();
  }
  checkWrite() {
    return 65536n;
  }
  write(bytes) {
    this.pending += this.decoder.decode(bytes, { stream: true });
    let nl;
    while ((nl = this.pending.indexOf('\n')) >= 0) {
      this.sink(this.pending.slice(0, nl));
      this.pending = this.pending.slice(nl + 1);
    }
  }
  blockingWriteAndFlush(bytes) {
    this.write(bytes);
  }
  flush() {}
  blockingFlush() {}
  subscribe() {
    return new Pollable();
  }
}

class TerminalInput {}
class TerminalOutput {}

/**
 * The WASI imports, keyed as jco's instantiation mode asks for them.
 * @param {(line: string) => void} stderr where the component's stderr lines go
 */
export function wasiImports(stderr) {
  const err = new OutputStream(stderr);
  const nowhere = new OutputStream(() => {});
  const random = {
    getRandomBytes(len) {
      return getRandomValues(new Uint8Array(Number(len)));
    },
    getRandomU64() {
      return getRandomValues(new BigUint64Array(1))[0];
    },
  };
  return {
    'wasi:cli/environment': {
      getEnvironment: () => [],
      getArguments: () => [],
      initialCwd: () => undefined,
    },
    'wasi:cli/exit': {
      exit(status) {
        throw new ComponentExit(status);
      },
    },
    'wasi:cli/stdin': { getStdin: () => new InputStream() },
    'wasi:cli/stdout': { getStdout: () => nowhere },
    'wasi:cli/stderr': { getStderr: () => err },
    'wasi:cli/terminal-input': { TerminalInput },
    'wasi:cli/terminal-output': { TerminalOutput },
    'wasi:cli/terminal-stdin': { getTerminalStdin: () => undefined },
    'wasi:cli/terminal-stdout': { getTerminalStdout: () => undefined },
    'wasi:cli/terminal-stderr': { getTerminalStderr: () => undefined },
    'wasi:io/error': { Error: IoError },
    'wasi:io/poll': { Pollable, poll: (list) => new Uint32Array(list.map((_, i) => i)) },
    'wasi:io/streams': { InputStream, OutputStream },
    'wasi:random/random': random,
    'wasi:random/insecure': random,
    'wasi:random/insecure-seed': {
      insecureSeed: () => [random.getRandomU64(), random.getRandomU64()],
    },
  };
}

/**
 * jco's generated code looks imports up without their version (`crowdwiz:gateway/store`)
 * while its types name them with it (`…/store@0.1.0`, jco issue #708): give both.
 */
export function withVersions(imports, versions) {
  const out = {};
  for (const [name, value] of Object.entries(imports)) {
    out[name] = value;
    const pkg = name.split('/')[0];
    if (versions[pkg]) out[`${name}@${versions[pkg]}`] = value;
  }
  return out;
}
