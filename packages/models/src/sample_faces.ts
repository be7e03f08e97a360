import { basename } from 'node:path';
import type { FaceBox } from './face_expression_model.js';
import { sampleFaces } from './face_expression.js';

/**
 * The bundled face boxes of an image path, matched by file name against
 * face-api's demo photographs; `null` when the image is not one of them.
 *
 * @example
 * ```ts
 * const boxes = sampleFaceBoxes('node_modules/@vladmandic/face-api/demo/sample1.jpg'); // three faces
 * ```
 */
export function sampleFaceBoxes(path: string): FaceBox[] | null {
  const hit = sampleFaces().find((s) => basename(s.path) === basename(path));
  return hit == null ? null : hit.faces.map((f) => f.box);
}
