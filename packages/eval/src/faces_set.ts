import { readFileSync } from 'node:fs';
import type { Box } from '@saliency/metrics';
import { cropImage, readImage } from '@saliency/node';
import { findAsset, sampleFaces } from '@saliency/models';
import { isDifficult, scaledTolerance, type EvalItem, type EvalSet } from './eval_set.js';

interface FaceRegionsFile {
  images: { file: string; faces: { index: number; crop: { x: number; y: number; side: number }; regions: Record<string, Box> }[] }[];
}

/**
 * The `faces` set: every face of face-api's demo photographs, cut as the face model's square crop
 * at the photo's own resolution, with the mouth and both eyes as ground-truth regions
 * (`assets/face-regions.json`, derived from face-api's 68 landmarks by `scripts/face-regions.mjs`).
 * The target is the model's own top class.
 *
 * @param limit - keep only the first `limit` faces.
 */
export async function facesEvalSet(limit = Infinity): Promise<EvalSet> {
  const regions = JSON.parse(readFileSync(findAsset('face-regions.json'), 'utf8')) as FaceRegionsFile;
  const items: EvalItem[] = [];
  for (const img of sampleFaces()) {
    const entry = regions.images.find((r) => r.file === img.file);
    if (entry == null) throw new Error(`face-regions.json has no entry for ${img.file}: run scripts/face-regions.mjs`);
    const photo = await readImage(img.path);
    for (const [i, face] of img.faces.entries()) {
      if (items.length >= limit) break;
      const r = entry.faces[i];
      const image = cropImage(photo, face.box, true);
      if (image.width !== r.crop.side) throw new Error(`face-regions.json is stale for ${img.file} face ${i}: run scripts/face-regions.mjs`);
      const boxes = Object.values(r.regions);
      items.push({
        id: `${img.file.replace(/^demo\//, '').replace(/\.jpg$/, '')}-face${i}`,
        image, target: 'top', boxes, difficult: isDifficult(boxes, image.width, image.height, false),
        tolerance: scaledTolerance(image.width, image.height),
      });
    }
  }
  return {
    name: 'faces', model: 'face', items, pointing: true, localisation: false,
    description: 'face-api demo faces (square crops at native resolution), face-expression model, target = its top class; '
      + 'ground truth = mouth and eye boxes from face-api\'s landmarks; pointing tolerance 15 px scaled from 224 px to the crop',
  };
}
