import { join } from 'node:path';
import { FACE_EXPRESSION_CLASSES, sampleFaces } from '@saliency/models';
import { facesEvalSet } from '../faces_set.js';
import { exportCoco, exportVoc, type ExportedDatasets, type ExportImage } from './export_datasets.js';

/**
 * The `faces` evaluation set as exportable images: each face of face-api's demo photos as the face
 * model's square crop, with its mouth and eye regions as objects whose class is the expression
 * face-api gives that crop (the class the `faces` set explains), boxes widened to whole pixels.
 *
 * @param limit - at most this many faces.
 *
 * @example
 * ```ts
 * const images = await facesExportImages();
 * ```
 */
export async function facesExportImages(limit = Infinity): Promise<ExportImage[]> {
  const set = await facesEvalSet(limit);
  const faces = sampleFaces().flatMap((img) => img.faces);
  return set.items.map((item, k) => {
    const p = faces[k].expressions.squareCrop;
    const className = FACE_EXPRESSION_CLASSES[p.indexOf(Math.max(...p))];
    return {
      id: item.id, width: item.image.width, height: item.image.height, pixels: item.image.data,
      objects: item.boxes.map((b) => {
        const x = Math.max(0, Math.floor(b.x)), y = Math.max(0, Math.floor(b.y));
        return {
          className, difficult: false,
          box: { x, y, width: Math.min(item.image.width, Math.ceil(b.x + b.width)) - x, height: Math.min(item.image.height, Math.ceil(b.y + b.height)) - y },
        };
      }),
    };
  });
}

/**
 * Writes the `faces` set ({@link facesExportImages}) as a Pascal VOC folder (`<out>/voc`) and a
 * COCO file with its images (`<out>/coco`): `saliency eval --dataset voc:<out>/voc --model face`
 * evaluates it like the bundled set.
 *
 * @param out - the output folder.
 *
 * @example
 * ```ts
 * await exportFacesDatasets('datasets/faces');
 * ```
 */
export async function exportFacesDatasets(out: string): Promise<ExportedDatasets> {
  const images = await facesExportImages();
  return { voc: await exportVoc(images, join(out, 'voc')), coco: await exportCoco(images, join(out, 'coco')) };
}
