import { appendFile, mkdir, readFile, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';

/** What one (set, method, image) evaluation produced; one line of `records.jsonl`. */
export interface EvalRecord {
  /** `${set}/${variant}/${itemId}`: what a resumed run skips. */
  key: string;
  /** Evaluation set. */
  set: string;
  /** Method name, with `+sess` when wrapped in SESS (or `gt-box` for the ground-truth reference row). */
  variant: string;
  /** Image identifier within the set. */
  itemId: string;
  /** The class explained. */
  target: number;
  /** The item's "difficult" flag. */
  difficult: boolean;
  /** Milliseconds to compute the map (the method call until its values were read). */
  ms: number | null;
  /** Pointing game: the map's peak is within tolerance of a ground-truth box (null: set has no boxes). */
  hit: boolean | null;
  /** Box from the mask (threshold = mean), IoU with the best-matching ground-truth box (null: not applicable). */
  iou: number | null;
  /** Dabkowski & Gal's saliency metric of the box from the mask (lower is better). */
  saliencyMetric: number | null;
  /** Insertion AUC (RISE protocol); null for reference rows. */
  insertion: number | null;
  /** Deletion AUC. */
  deletion: number | null;
  /** The insertion and deletion curves (probability per step) for plotting. */
  curves: { fractions: number[]; insertion: number[]; deletion: number[] } | null;
  /** Overlay image written for this record, relative to the report folder. */
  overlay: string | null;
}

/**
 * An append-only JSON-lines store of finished evaluations: each record is written as soon as it is
 * computed, so an interrupted run loses at most the image in progress, and a rerun skips the keys
 * already present.
 */
export class RecordStore {
  private readonly done = new Map<string, EvalRecord>();

  private constructor(private readonly path: string) {}

  /** Opens (or creates) the store at `path`, reading the records already there; a torn last line is ignored. */
  static async open(path: string): Promise<RecordStore> {
    const store = new RecordStore(path);
    await mkdir(dirname(path), { recursive: true });
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    // A run killed mid-write leaves a last line without its newline: cut it off (that image is
    // recomputed), so the next record starts on a line of its own and the file stays valid JSON lines.
    if (text.length > 0 && !text.endsWith('\n')) {
      text = text.slice(0, text.lastIndexOf('\n') + 1);
      await truncate(path, Buffer.byteLength(text));
    }
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        const r = JSON.parse(line) as EvalRecord;
        store.done.set(r.key, r);
      } catch {
        // A line cut short by an interruption: that image is simply recomputed.
      }
    }
    return store;
  }

  /** Whether `key` was already evaluated. */
  has(key: string): boolean {
    return this.done.has(key);
  }

  /** Appends a record (durably, before resolving). */
  async add(r: EvalRecord): Promise<void> {
    await appendFile(this.path, JSON.stringify(r) + '\n');
    this.done.set(r.key, r);
  }

  /** Every record, in insertion order. */
  all(): EvalRecord[] {
    return [...this.done.values()];
  }
}
