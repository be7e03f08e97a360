import { JsonlStore } from './jsonl_store.js';

/** What one (set, method, image) evaluation produced; one line of `records.jsonl`. */
export interface EvalRecord {
  /** The job's key (see `jobKey`: a hash of the image, ground truth, model and settings): what a rerun skips. */
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
  curves: {
    /** Fraction of pixels changed at each point. */
    fractions: number[];
    /** Probability of the target as pixels are inserted. */
    insertion: number[];
    /** Probability of the target as pixels are deleted. */
    deletion: number[];
  } | null;
  /** Overlay image written for this record, relative to the report folder. */
  overlay: string | null;
  /** Only on a job that failed for good: its last error (the record counts in no metric; a rerun tries again). */
  error?: string;
}

/** The store of a run's records (`records.jsonl`, see {@link JsonlStore}): one line per job key. */
export type RecordStore = JsonlStore<EvalRecord>;

/** Opens (or creates) a run's record store. */
export function openRecordStore(path: string): Promise<RecordStore> {
  return JsonlStore.open<EvalRecord>(path);
}
