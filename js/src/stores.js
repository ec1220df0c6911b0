// Store backends with the contract of wit/store.wit (the Rust host's store module runs
// the same cases): versions never reused for a key, conditional atomic commits, scans in
// UTF-8 byte order of key. JavaScript compares strings by UTF-16 code unit, which puts
// U+E000..U+FFFF after astral characters: keys are compared as UTF-8 bytes here instead.

const enc = new TextEncoder();
const byUtf8 = (a, b) => Buffer.compare(Buffer.from(enc.encode(a)), Buffer.from(enc.encode(b)));

/** The smallest string above every string that starts with `prefix`, or undefined. */
export function prefixEnd(prefix) {
  const chars = [...prefix];
  while (chars.length) {
    let next = chars.pop().codePointAt(0) + 1;
    if (next >= 0xd800 && next <= 0xdfff) next = 0xe000;
    if (next <= 0x10ffff) return chars.join('') + String.fromCodePoint(next);
  }
  return undefined;
}

/** In-memory store: for tests and throwaway demos (everything is lost on exit). */
export function memoryStore() {
  const map = new Map(); // key -> { value, version }
  const sorted = []; // every key, in UTF-8 byte order: a scan reads only its range
  // The first index whose key is above `key` (`strict`) or at or above it.
  const seek = (key, strict) => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = byUtf8(sorted[mid], key);
      if (c < 0 || (strict && c === 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  let seq = 0n;
  return {
    async get(key) {
      const e = map.get(key);
      return e && { key, value: e.value.slice(), version: e.version };
    },
    async scan(prefix, startAfter, limit) {
      const strict = startAfter !== undefined && byUtf8(startAfter, prefix) >= 0;
      const end = prefixEnd(prefix);
      const out = [];
      for (let i = seek(strict ? startAfter : prefix, strict); i < sorted.length && out.length < limit; i++) {
        const k = sorted[i];
        if (end !== undefined && byUtf8(k, end) >= 0) break;
        out.push({ key: k, value: map.get(k).value.slice(), version: map.get(k).version });
      }
      return out;
    },
    async scanReverse(prefix, startBefore, limit) {
      const end = prefixEnd(prefix);
      const top = startBefore !== undefined && (end === undefined || byUtf8(startBefore, end) < 0) ? startBefore : end;
      const out = [];
      for (let i = (top === undefined ? sorted.length : seek(top, false)) - 1; i >= 0 && out.length < limit; i--) {
        const k = sorted[i];
        if (byUtf8(k, prefix) < 0) break;
        out.push({ key: k, value: map.get(k).value.slice(), version: map.get(k).version });
      }
      return out;
    },
    async commit(preconditions, writes) {
      for (const p of preconditions) {
        if (map.get(p.key)?.version !== p.expectedVersion) return 'conflict';
      }
      for (const w of writes) {
        seq += 1n;
        const had = map.has(w.key);
        if (w.value === undefined) {
          if (had) sorted.splice(seek(w.key, false), 1);
          map.delete(w.key);
        } else {
          if (!had) sorted.splice(seek(w.key, false), 0, w.key);
          map.set(w.key, { value: Uint8Array.from(w.value), version: seq });
        }
      }
      return 'committed';
    },
  };
}

/**
 * SQLite through `node:sqlite` (Node >= 22.5), the Rust host's schema: one database file
 * may be shared by several processes. Statements are synchronous and local.
 * @param {string} path a file, or ':memory:'
 */
export async function sqliteStore(path) {
  let sqlite;
  try {
    sqlite = await import('node:sqlite');
  } catch {
    throw new Error(`node:sqlite needs Node >= 22.5 (this is ${process.version}); use memoryStore() or your own store`);
  }
  const db = new sqlite.DatabaseSync(path);
  db.exec('PRAGMA busy_timeout = 5000');
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = FULL');
  db.exec(`CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID;
           CREATE TABLE IF NOT EXISTS kv_seq (id INTEGER PRIMARY KEY CHECK (id = 0), seq INTEGER NOT NULL);
           INSERT OR IGNORE INTO kv_seq (id, seq) VALUES (0, 0);`);
  const q = (sql) => {
    const s = db.prepare(sql);
    s.setReadBigInts(true);
    return s;
  };
  const getStmt = q('SELECT value, version FROM kv WHERE key = ?');
  const versionStmt = q('SELECT version FROM kv WHERE key = ?');
  // Each bound a plain comparison (never `? IS NULL OR key < ?`), so SQLite reads the
  // key's range between them, not everything after the lower one.
  const scanSql = (op, bounded) => `SELECT key, value, version FROM kv WHERE key ${op} ?${bounded ? ' AND key < ?' : ''} ORDER BY key LIMIT ?`;
  const scans = {};
  for (const op of ['>', '>=']) for (const bounded of [true, false]) scans[`${op}${bounded}`] = { sql: scanSql(op, bounded), stmt: q(scanSql(op, bounded)) };
  const scanOf = (prefix, startAfter) => {
    const strict = startAfter !== undefined && byUtf8(startAfter, prefix) >= 0;
    const end = prefixEnd(prefix);
    const { sql, stmt } = scans[`${strict ? '>' : '>='}${end !== undefined}`];
    return { sql, stmt, args: end === undefined ? [strict ? startAfter : prefix] : [strict ? startAfter : prefix, end] };
  };
  const reverseSql = (bounded) => `SELECT key, value, version FROM kv WHERE key >= ?${bounded ? ' AND key < ?' : ''} ORDER BY key DESC LIMIT ?`;
  const reverses = { true: q(reverseSql(true)), false: q(reverseSql(false)) };
  const seqStmt = q('SELECT seq FROM kv_seq WHERE id = 0');
  const upsert = q('INSERT INTO kv (key, value, version) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, version = excluded.version');
  const del = q('DELETE FROM kv WHERE key = ?');
  const setSeq = q('UPDATE kv_seq SET seq = ? WHERE id = 0');
  const entry = (key, row) => ({ key, value: new Uint8Array(row.value), version: row.version });
  return {
    async get(key) {
      const row = getStmt.get(key);
      return row && entry(key, row);
    },
    async scan(prefix, startAfter, limit) {
      const { stmt, args } = scanOf(prefix, startAfter);
      return stmt.all(...args, limit).map((r) => entry(r.key, r));
    },
    async scanReverse(prefix, startBefore, limit) {
      const end = prefixEnd(prefix);
      const top = startBefore !== undefined && (end === undefined || byUtf8(startBefore, end) < 0) ? startBefore : end;
      const args = top === undefined ? [prefix] : [prefix, top];
      return reverses[top !== undefined].all(...args, limit).map((r) => entry(r.key, r));
    },
    /** SQLite's plan for the statement `scan` runs (EXPLAIN QUERY PLAN, a line a step). */
    scanPlan(prefix, startAfter) {
      const { sql, args } = scanOf(prefix, startAfter);
      return db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args, 100).map((r) => r.detail).join('\n');
    },
    async commit(preconditions, writes) {
      db.exec('BEGIN IMMEDIATE');
      try {
        for (const p of preconditions) {
          const found = versionStmt.get(p.key)?.version;
          if (found !== p.expectedVersion) {
            db.exec('ROLLBACK');
            return 'conflict';
          }
        }
        let seq = seqStmt.get().seq;
        for (const w of writes) {
          seq += 1n;
          if (w.value === undefined) del.run(w.key);
          else upsert.run(w.key, w.value, seq);
        }
        setSeq.run(seq);
        db.exec('COMMIT');
        return 'committed';
      } catch (e) {
        if (db.isTransaction) db.exec('ROLLBACK');
        throw e;
      }
    },
    close() {
      db.close();
    },
  };
}
