#!/usr/bin/env node
/**
 * Exports the bundled evaluation sets as datasets on disk, in both Pascal VOC and COCO layouts:
 *
 *   node scripts/export-datasets.mjs [--out datasets] [--count 100] [--seed 20261122]
 *
 * writes
 *   <out>/generated/voc   Annotations/*.xml, JPEGImages/*.png, ImageSets/Main/test.txt
 *   <out>/generated/coco  instances.json, images/*.png
 *   <out>/faces/voc, <out>/faces/coco   (face-api's demo faces; mouth and eye regions)
 *
 * and prints the --dataset spec of each, e.g.
 *   npx saliency eval --dataset voc:datasets/generated/voc --model digits --methods gradcam
 * Needs the built packages (npm run build).
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { exportFacesDatasets, exportGeneratedDatasets } from '@saliency/eval';

const { values } = parseArgs({ options: { out: { type: 'string', default: 'datasets' }, count: { type: 'string', default: '100' }, seed: { type: 'string' } } });
const count = Number(values.count);
if (!Number.isInteger(count) || count < 1) throw new Error(`--count must be a positive integer; got ${values.count}`);
const generated = await exportGeneratedDatasets(join(values.out, 'generated'), { count, seed: values.seed == null ? undefined : Number(values.seed) });
const faces = await exportFacesDatasets(join(values.out, 'faces'));
for (const [name, d] of [['generated', generated], ['faces', faces]]) {
  for (const [format, e] of Object.entries(d)) console.log(`${name} ${format}: ${e.images} images, ${e.objects} objects → --dataset ${e.spec}`);
}
