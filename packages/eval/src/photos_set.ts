import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { findAsset } from '@saliency/models';
import { readImage } from '@saliency/node';
import { scaledTolerance, type EvalSet } from './eval_set.js';

/**
 * The `photos` set: neutral photographs from Debian's python3-skimage and darknet packages
 * (`assets/photos/`, see its README for sources and licences), explained with nsfwjs's MobileNetV2
 * for its own top class. No boxes: insertion/deletion and the saliency metric only.
 *
 * @param limit - keep only the first `limit` photos (alphabetical).
 */
export async function photosEvalSet(limit = Infinity): Promise<EvalSet> {
  const dir = findAsset('photos');
  const files = readdirSync(dir).filter((f) => f.endsWith('.jpg')).sort().slice(0, limit);
  const items = await Promise.all(files.map(async (f) => {
    const image = await readImage(join(dir, f));
    return { id: f.replace(/\.jpg$/, ''), image, target: 'top' as const, boxes: [], difficult: false, tolerance: scaledTolerance(image.width, image.height) };
  }));
  return {
    name: 'photos', model: 'mobilenet', items, pointing: false, localisation: false,
    description: 'neutral photographs from Debian packages (skimage, darknet), nsfwjs MobileNetV2, target = its top class; insertion/deletion and saliency metric only',
  };
}
