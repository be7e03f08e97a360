import type { ModelSpec } from '@saliency/node';
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { SessOptions } from '@saliency/core';
import type { Box } from '@saliency/metrics';
import type { EvalModelName, EvalSetName } from './eval_set.js';

/**
 * Where a worker finds a job's pixels: an image file every worker can read, or one image of a
 * bundled evaluation set (regenerated or re-read by the worker, which is deterministic).
 */
export type JobImage =
  | {
    /** An image file. */
    kind: 'file';
    /** Absolute path every worker can read. */
    path: string;
  }
  | {
    /** One image of a bundled evaluation set. */
    kind: 'set';
    /** The set. */
    set: EvalSetName;
    /** How many images of the set the run uses. */
    count: number;
    /** The image's index among them. */
    index: number;
  };

/** The classifier a job is explained with: a bundled preset (the `preset` of the CLI's model spec). */
export interface JobModel {
  /** Bundled classifier, or `'custom'` for a model from disk (see `spec`). */
  preset: EvalModelName | 'custom';
  /** How a custom model is loaded (`loadClassifier`); absent: the caller's classifier, in-process only. */
  spec?: ModelSpec;
}

/** Everything that changes a job's result besides the image, target and model: hashed into its key. */
export interface JobSettings {
  /** Method by CLI name, or `'gt-box'` for the ground-truth reference row. */
  method: string;
  /** Whether the method is wrapped in SESS. */
  sess: boolean;
  /** RISE masks. */
  masks: number;
  /** Seed of RISE and SmoothGrad. */
  seed: number;
  /** SESS options (used when `sess`). */
  sessOptions: SessOptions;
  /** Curve images per forward pass of insertion/deletion. */
  batchSize: number;
  /** CAM layer (null: none or the method's own choice). */
  layer: string | null;
  /**
   * `false`: the map only (its time and overlay), no pointing game, localisation, saliency metric or
   * insertion/deletion (`saliency eval --no-metrics`). Absent: every metric (keys of such jobs are
   * those of runs made before this field existed).
   */
  metrics?: false;
}

/**
 * One unit of work of a dataset run: one (image, target class, method, settings) item. It is plain
 * JSON, so it travels unchanged to a child process or through Redis, and a worker needs nothing
 * else to compute its record.
 */
export interface EvalJob {
  /** {@link jobKey} of the job: the record's key; the BullMQ job id. */
  key: string;
  /** The set the item belongs to and which metrics apply. */
  set: {
    /** Set (dataset) name. */
    name: string;
    /** Whether the pointing game applies (the set has boxes). */
    pointing: boolean;
    /** Whether localisation error applies. */
    localisation: boolean;
  };
  /** The classifier. */
  model: JobModel;
  /** The item's ground truth. */
  item: {
    /** Stable identifier within the set. */
    id: string;
    /** Class to explain, or the model's top class. */
    target: number | 'top';
    /** Ground-truth boxes of the target (pixels). */
    boxes: Box[];
    /** The design's "difficult" flag. */
    difficult: boolean;
    /** Pointing-game tolerance in pixels. */
    tolerance: number;
  };
  /** Where the pixels come from. */
  image: JobImage;
  /** Method name with `+sess` when wrapped in SESS, or `gt-box`. */
  variant: string;
  /** What the method runs with. */
  settings: JobSettings;
  /** Overlay PNG to write, relative to `out` (null: none). */
  overlay: string | null;
  /** The run's output folder (absolute; every worker must see it). */
  out: string;
}

/** JSON with object keys sorted at every level, so equal values always give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v == null || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}

/** What identifies an image in a job key: an absolute path and its size in bytes, or a hash of its pixels. */
export type ImageIdentity =
  | {
    /** Absolute path. */
    path: string;
    /** Size in bytes. */
    size: number;
  }
  | {
    /** SHA-256 (hex) of the size and the RGB bytes. */
    sha256: string;
  };

/** The identity of an image file: its absolute path and size in bytes. */
export async function fileIdentity(path: string): Promise<ImageIdentity> {
  const abs = resolve(path);
  return { path: abs, size: (await stat(abs)).size };
}

/** The identity of decoded pixels: the SHA-256 of their bytes with the image's size. */
export function pixelIdentity(width: number, height: number, data: ArrayLike<number>): ImageIdentity {
  const h = createHash('sha256').update(`${width}x${height}:`);
  h.update(Uint8Array.from(data as ArrayLike<number>));
  return { sha256: h.digest('hex') };
}

/**
 * The key of a job: SHA-256 (hex, 32 characters kept) of the image identity, the item's ground
 * truth and target, the model and the settings, as canonical JSON. Equal work gets equal keys
 * whatever process computes them, so a retried or duplicated job writes one record.
 */
export function jobKey(parts: { image: ImageIdentity; item: EvalJob['item']; model: JobModel; settings: JobSettings }): string {
  return createHash('sha256').update(canonicalJson(parts)).digest('hex').slice(0, 32);
}
