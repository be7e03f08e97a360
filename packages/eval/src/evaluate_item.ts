import * as tf from '@tensorflow/tfjs-core';
import { explain, type Classifier, type SaliencyMethod } from '@saliency/core';
import { boxFromMask, insertionDeletion, iou, pointingHit, saliencyMetric, type Box } from '@saliency/metrics';
import { writeOverlayPng } from '@saliency/node';
import type { EvalItem, EvalSet } from './eval_set.js';
import type { EvalRecord } from './records.js';

/** What {@link evaluateItem} needs of a set: its name and which metrics apply. */
export type EvalSetInfo = { name: string } & Pick<EvalSet, 'pointing' | 'localisation'>;

/** Settings shared by every item of a run. */
export interface ItemSettings {
  /** Curve images per forward pass of insertion/deletion. */
  batchSize: number;
  /** Where to write this record's overlay (absolute), and its path relative to the report; null: none. */
  overlay: { file: string; relative: string } | null;
  /** `false`: the map only (its time and overlay); every metric of the record is null. Default true. */
  metrics?: boolean;
}

/** The item's pixels as a float `[H, W, 3]` tensor in 0–255. */
export function itemTensor(item: EvalItem): tf.Tensor3D {
  return tf.tensor3d(Float32Array.from(item.image.data), [item.image.height, item.image.width, 3]);
}

/** The model's top class on the item (the image resized to the model's input). */
export async function topClass(classifier: Classifier, image: tf.Tensor3D): Promise<number> {
  const top = tf.tidy(() => tf.argMax(classifier.logits(
    tf.image.resizeBilinear(tf.expandDims(image, 0) as tf.Tensor4D, [...classifier.inputSize] as [number, number], false, true)), 1));
  try {
    return (await top.data())[0];
  } finally {
    top.dispose();
  }
}

function bestIou(box: Box | null, truth: readonly Box[]): number | null {
  if (truth.length === 0) return null;
  return box == null ? 0 : Math.max(...truth.map((t) => iou(box, t)));
}

/**
 * Explains one image with one method and measures the map: pointing game, localisation (box from
 * the mask vs the ground-truth boxes), saliency metric, insertion/deletion. Leaves no tensors.
 */
export async function evaluateItem(
  set: EvalSetInfo, item: EvalItem, image: tf.Tensor3D, target: number,
  classifier: Classifier, method: SaliencyMethod, variant: string, s: ItemSettings,
): Promise<EvalRecord> {
  const t0 = performance.now();
  const map = await explain(method, classifier, image, { target });
  try {
    await map.data();
    const ms = performance.now() - t0;
    if (s.metrics === false) {
      if (s.overlay != null) await writeOverlayPng(item.image, map, s.overlay.file, { alpha: 0.5 });
      return {
        key: `${set.name}/${variant}/${item.id}`, set: set.name, variant, itemId: item.id, target, difficult: item.difficult,
        ms, hit: null, iou: null, saliencyMetric: null, insertion: null, deletion: null, curves: null, overlay: s.overlay?.relative ?? null,
      };
    }
    const hit = set.pointing ? (await pointingHit(map, item.boxes, item.tolerance)).hit : null;
    const box = await boxFromMask(map);
    const sal = box != null ? await saliencyMetric(classifier, image, map, target, { box }) : null;
    const id = await insertionDeletion(classifier, image, map, target, { preset: 'rise', batchSize: s.batchSize });
    if (s.overlay != null) await writeOverlayPng(item.image, map, s.overlay.file, { alpha: 0.5 });
    return {
      key: `${set.name}/${variant}/${item.id}`, set: set.name, variant, itemId: item.id, target, difficult: item.difficult,
      ms, hit,
      iou: set.localisation ? bestIou(box, item.boxes) : null,
      saliencyMetric: sal?.value ?? null,
      insertion: id.insertion, deletion: id.deletion, curves: id.curves,
      overlay: s.overlay?.relative ?? null,
    };
  } finally {
    map.dispose();
  }
}

/**
 * The reference row of a set with boxes: the saliency metric of the largest ground-truth box
 * (what Dabkowski & Gal compare their masks against).
 */
export async function evaluateTruthBox(set: EvalSetInfo, item: EvalItem, image: tf.Tensor3D, target: number, classifier: Classifier): Promise<EvalRecord> {
  const largest = [...item.boxes].sort((a, b) => b.width * b.height - a.width * a.height)[0];
  const map = tf.zeros([item.image.height, item.image.width]) as tf.Tensor2D;
  try {
    const sal = await saliencyMetric(classifier, image, map, target, { box: largest });
    return {
      key: `${set.name}/gt-box/${item.id}`, set: set.name, variant: 'gt-box', itemId: item.id, target, difficult: item.difficult,
      ms: null, hit: null, iou: null, saliencyMetric: sal.value, insertion: null, deletion: null, curves: null, overlay: null,
    };
  } finally {
    map.dispose();
  }
}
