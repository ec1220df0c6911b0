// The node backend: Graphene JSON-RPC over HTTP with fetch, a timeout per request and
// failover to the next node when one cannot be reached. Results go back to the component
// as the exact text the node wrote: JSON.parse would round 64-bit integers.

/** A failed node call, as the component's `node-error` variant. */
export class NodeError extends Error {
  /** @param {{tag: 'unreachable'|'bad-response', val: string} | {tag: 'timeout'} | {tag: 'rpc', val: {code: bigint, message: string}}} payload */
  constructor(payload) {
    super(payload.tag === 'rpc' ? `node error ${payload.val.code}: ${payload.val.message}` : `node ${payload.tag}${payload.val ? `: ${payload.val}` : ''}`);
    this.name = 'NodeError';
    this.payload = payload;
  }
}

// Credentials in a node URL (`https://user:pass@host`) never reach a message.
export function redact(text) {
  return String(text).replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1***@');
}

// The raw text of each member of a top-level JSON object, without parsing the values.
export function objectMembers(text) {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
  };
  const string = () => {
    const start = i;
    if (text[i] !== '"') throw new SyntaxError(`string expected at ${i}`);
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) throw new SyntaxError('unterminated string');
    i++;
    return text.slice(start, i);
  };
  const value = () => {
    const start = i;
    if (text[i] === '"') {
      string();
    } else if (text[i] === '{' || text[i] === '[') {
      let depth = 0;
      do {
        const c = text[i];
        if (c === '"') {
          string();
          continue;
        }
        if (c === '{' || c === '[') depth++;
        else if (c === '}' || c === ']') depth--;
        i++;
      } while (depth > 0 && i < text.length);
      if (depth !== 0) throw new SyntaxError('unbalanced brackets');
    } else {
      while (i < text.length && !',}] \t\r\n'.includes(text[i])) i++;
      if (i === start) throw new SyntaxError(`value expected at ${i}`);
    }
    return text.slice(start, i);
  };
  const members = new Map();
  ws();
  if (text[i] !== '{') throw new SyntaxError('not a JSON object');
  i++;
  ws();
  if (text[i] === '}') return members;
  for (;;) {
    ws();
    const name = JSON.parse(string());
    ws();
    if (text[i] !== ':') throw new SyntaxError(`':' expected at ${i}`);
    i++;
    ws();
    members.set(name, value());
    ws();
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text[i] === '}') break;
    throw new SyntaxError(`',' or '}' expected at ${i}`);
  }
  // The values' own syntax is checked by parsing the whole once (numbers lose nothing
  // that matters here: only the raw member texts are used).
  JSON.parse(text);
  return members;
}

const NEVER_REACHED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

function short(text) {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** JSON-RPC to one or more nodes over HTTP. */
export class JsonRpcNodes {
  /**
   * @param {string[]} urls node endpoints, tried in order
   * @param {{timeoutMs?: number, log?: (line: string) => void}} [options]
   */
  constructor(urls, { timeoutMs = 10_000, log = (line) => process.emitWarning(line) } = {}) {
    if (!Array.isArray(urls) || urls.length === 0) throw new TypeError('nodes: give at least one node URL');
    this.urls = urls.map(String);
    this.timeoutMs = timeoutMs;
    this.log = log;
    this.current = 0;
    this.nextId = 1;
  }

  async post(url, api, method, paramsJson) {
    const id = this.nextId++;
    // The params go out as the component wrote them: they may hold 64-bit numbers.
    const body = `{"jsonrpc":"2.0","id":${id},"method":"call","params":[${JSON.stringify(api)},${JSON.stringify(method)},${paramsJson}]}`;
    let text;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await response.text();
    } catch (e) {
      if (e?.name === 'TimeoutError' || e?.name === 'AbortError') throw new NodeError({ tag: 'timeout' });
      const code = e?.cause?.code ?? e?.code;
      const detail = redact(`${e?.message ?? e}${e?.cause ? ` (${e.cause.code ?? e.cause.message})` : ''}`);
      // Refused or unresolvable: the request never left. Anything else (a reset mid-answer)
      // may have been delivered.
      throw new NodeError(NEVER_REACHED.has(code) ? { tag: 'unreachable', val: detail } : { tag: 'bad-response', val: detail });
    }
    let members;
    try {
      members = objectMembers(text);
    } catch {
      throw new NodeError({ tag: 'bad-response', val: redact(short(text)) });
    }
    const error = members.get('error');
    if (error !== undefined && error !== 'null') {
      let code = 0n;
      let message = '';
      try {
        const e = objectMembers(error);
        if (/^-?\d+$/.test(e.get('code') ?? '')) code = BigInt(e.get('code'));
        const m = e.get('message');
        if (m?.startsWith('"')) message = JSON.parse(m);
      } catch {
        message = short(error);
      }
      throw new NodeError({ tag: 'rpc', val: { code, message: redact(message) } });
    }
    const result = members.get('result');
    if (result === undefined) throw new NodeError({ tag: 'bad-response', val: redact(short(text)) });
    return result;
  }

  /** @returns {Promise<string>} the `result` member's text */
  async call(api, method, paramsJson) {
    // A broadcast that may have been delivered is reported, never resent elsewhere: the
    // component decides whether to rebroadcast the same bytes.
    const idempotent = api !== 'network_broadcast';
    const start = this.current;
    let last = new NodeError({ tag: 'unreachable', val: 'no node tried' });
    for (let k = 0; k < this.urls.length; k++) {
      const index = (start + k) % this.urls.length;
      try {
        const result = await this.post(this.urls[index], api, method, paramsJson);
        this.current = index;
        return result;
      } catch (e) {
        const tag = e.payload?.tag;
        // A node without the history plugin answers history calls with an error another
        // node may not give; other RPC errors are the call's answer.
        if (tag === 'rpc' && api !== 'history') throw e;
        if ((tag === 'timeout' || tag === 'bad-response') && !idempotent) throw e;
        last = e;
      }
    }
    throw last;
  }

  failOver(reason) {
    const n = this.urls.length;
    if (n < 2) {
      this.log(`the only node is distrusted: ${reason}`);
      return false;
    }
    const from = this.current % n;
    this.current = (from + 1) % n;
    this.log(`node ${from + 1} of ${n} distrusted (${reason}); now using node ${this.current + 1}`);
    return true;
  }
}
