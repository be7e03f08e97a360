import { join } from 'node:path';
import { exportCoco, exportVoc, type ExportedDatasets, type ExportImage } from './export_datasets.js';
import { generateLocalisationSet, type GeneratedSample } from './generated_set.js';

/**
 * Objects of the generated scenes whose box's shorter side is below this many pixels are flagged
 * `difficult` in the exported annotations (VOC's "hard to recognise"), so that the flag round-trips
 * with both values present.
 */
export const GENERATED_DIFFICULT_SIDE = 24;

/**
 * The generated digit scenes as exportable images: every pasted digit (the targets and the
 * distractors) is an object of class `'0'`…`'9'` (the bundled digit CNN's class names).
 *
 * @param samples - from `generateLocalisationSet`.
 *
 * @example
 * ```ts
 * const images = generatedExportImages(generateLocalisationSet({ seed: 1, count: 8, split: 'test' }));
 * ```
 */
export function generatedExportImages(samples: readonly GeneratedSample[]): ExportImage[] {
  return samples.map((s) => ({
    id: s.id, width: s.width, height: s.height, pixels: s.pixels,
    objects: [...s.boxes, ...s.distractors].map((o) => ({
      className: String(o.label), box: { ...o.box }, difficult: Math.min(o.box.width, o.box.height) < GENERATED_DIFFICULT_SIDE,
    })),
  }));
}

/**
 * Writes `count` generated scenes (seed `seed`, held-out MNIST digits) as a Pascal VOC folder
 * (`<out>/voc`) and a COCO file with its images (`<out>/coco`). `scripts/export-datasets.mjs` runs
 * it; the tests read the result back through `readDataset`.
 *
 * @param out - the output folder.
 * @param opts - number of scenes and seed.
 * @returns the `--dataset` specs of both.
 *
 * @example
 * ```ts
 * const { voc, coco } = await exportGeneratedDatasets('datasets/generated', { count: 100 });
 * // saliency eval --dataset voc:datasets/generated/voc --model digits
 * ```
 */
export async function exportGeneratedDatasets(out: string, opts: { count?: number; seed?: number } = {}): Promise<ExportedDatasets> {
  const images = generatedExportImages(generateLocalisationSet({ seed: opts.seed ?? 20261122, count: opts.count ?? 100, split: 'test', size: [224, 224] }));
  return { voc: await exportVoc(images, join(out, 'voc')), coco: await exportCoco(images, join(out, 'coco')) };
}
