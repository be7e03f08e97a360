import { open, mkdir, readFile, rename, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/** A record of a {@link JsonlStore}: its first property is `key` (what the torn-write recovery looks for). */
export interface KeyedRecord {
  /** What identifies the record; one record per key. */
  key: string;
  /** Set on a record of work that failed for good; a later record of the same key without it replaces it. */
  error?: string;
}

const RECORD_START = '{"key":';

/**
 * The records of one line of the store. A line is normally one JSON object; a process killed
 * mid-write leaves a fragment, and a record appended after it by another process lands on the
 * same line: the last `{"key":` that parses is that record, the fragment before it is dropped.
 */
export function parseStoreLine<T extends KeyedRecord>(line: string): T | null {
  const text = line.trim();
  if (text === '') return null;
  for (let at = text.lastIndexOf(RECORD_START); at >= 0; at = at === 0 ? -1 : text.lastIndexOf(RECORD_START, at - 1)) {
    try {
      const r = JSON.parse(text.slice(at)) as T;
      if (r != null && typeof r === 'object' && typeof r.key === 'string') return r;
    } catch {
      // Not a whole record from here: try an earlier start.
    }
  }
  return null;
}

/**
 * An append-only JSON-lines store of records keyed by `key`, shared safely by several processes
 * on one file system: each record is one `write` of one line to a file opened for appending (so
 * lines of different processes do not interleave), reading tolerates torn lines (see
 * {@link parseStoreLine}), and a key is recorded once: adding a key that already has a record is a
 * no-op (a failed record is replaced by a later successful one). {@link JsonlStore.compact}
 * rewrites the file in a given order without duplicates or fragments (temp file + rename).
 */
export class JsonlStore<T extends KeyedRecord> {
  private readonly records = new Map<string, T>();
  private offset = 0;
  private pending = '';

  /** The store's file. */
  readonly path: string;

  private constructor(path: string) {
    this.path = path;
  }

  /** Opens (or creates) the store at `path` and reads the records already there. */
  static async open<T extends KeyedRecord>(path: string): Promise<JsonlStore<T>> {
    const store = new JsonlStore<T>(path);
    await mkdir(dirname(path), { recursive: true });
    await store.refresh();
    // A torn last line (a writer killed mid-line): end it, so the next record starts on a line
    // of its own. Appending a newline is safe while other processes append; truncating is not.
    if (store.pending !== '') {
      await writeFile(path, '\n', { flag: 'a' });
      store.pending = '';
      store.offset += 1;
    }
    return store;
  }

  /** Reads what other processes appended since the last read. */
  async refresh(): Promise<void> {
    let fh: FileHandle;
    try {
      fh = await open(this.path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    try {
      const { size } = await fh.stat();
      if (size < this.offset) {
        // Rewritten (compacted) by another process: read it again from the start.
        this.records.clear();
        this.offset = 0;
        this.pending = '';
      }
      if (size === this.offset) return;
      const buf = Buffer.alloc(size - this.offset);
      const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
      this.offset += bytesRead;
      const text = this.pending + buf.subarray(0, bytesRead).toString('utf8');
      const cut = text.lastIndexOf('\n');
      this.pending = text.slice(cut + 1);
      for (const line of text.slice(0, cut + 1).split('\n')) {
        const r = parseStoreLine<T>(line);
        if (r != null) this.remember(r);
      }
    } finally {
      await fh.close();
    }
  }

  private remember(r: T): boolean {
    const old = this.records.get(r.key);
    if (old != null && (old.error == null || r.error != null)) return false;
    this.records.set(r.key, r);
    return true;
  }

  /** Whether `key` has a successful record. */
  has(key: string): boolean {
    const r = this.records.get(key);
    return r != null && r.error == null;
  }

  /** The record of `key` (successful or failed), if any. */
  get(key: string): T | undefined {
    return this.records.get(key);
  }

  /**
   * Appends a record as one line, durably, unless the key already has one (a successful record
   * is never replaced; a failed one is replaced by a success). Resolves to whether it was written.
   */
  async add(r: T): Promise<boolean> {
    if (!r.key || JSON.stringify(r).indexOf(RECORD_START) !== 0) throw new TypeError('a store record must have key as its first property');
    if (!this.remember(r)) return false;
    const fh = await open(this.path, 'a');
    try {
      await fh.write(JSON.stringify(r) + '\n');
      await fh.datasync();
    } finally {
      await fh.close();
    }
    return true;
  }

  /** Every record, in the order first read or added. */
  all(): T[] {
    return [...this.records.values()];
  }

  /**
   * Rewrites the file with one line per record: those of `order` first, in that order, then the
   * rest. Written to a temporary file and renamed over the store, so it is never seen half done.
   */
  async compact(order: readonly string[]): Promise<void> {
    await this.refresh();
    const seen = new Set<string>();
    const lines: string[] = [];
    for (const k of [...order, ...this.records.keys()]) {
      const r = this.records.get(k);
      if (r == null || seen.has(k)) continue;
      seen.add(k);
      lines.push(JSON.stringify(r) + '\n');
    }
    const text = lines.join('');
    const tmp = `${this.path}.${process.pid}.tmp`;
    await writeFile(tmp, text);
    await rename(tmp, this.path);
    this.offset = Buffer.byteLength(text);
    this.pending = '';
  }
}
