/*
 * Finds faces with face-api's own detector (SSD MobileNetV1, weights in
 * `@vladmandic/face-api/model/`), run through face-api's API in this process on the
 * current tfjs backend (face-api's Node bundle shares this process's tfjs engine).
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { SaliencyError } from '@saliency/core/base';
import type { FaceBox } from './face_expression_model.js';
import { faceApiDir } from './face_expression.js';

/** One face {@link detectFaces} found. */
export interface DetectedFace {
  /** The detection box, clipped to the image and floored to whole pixels (as face-api crops it). */
  box: FaceBox;
  /** The detector's confidence, 0–1. */
  score: number;
}

/** Options of {@link detectFaces}. */
export interface DetectFacesOptions {
  /** Keep detections at least this confident (default 0.5, face-api's default). */
  minConfidence?: number;
  /** At most this many faces (default 100). */
  maxResults?: number;
}

interface FaceApiBox { x: number; y: number; width: number; height: number; clipAtImageBorders(w: number, h: number): FaceApiBox }
interface FaceApi {
  tf: { tensor3d(values: Int32Array, shape: [number, number, number], dtype: 'int32'): tf.Tensor3D };
  nets: { ssdMobilenetv1: { isLoaded: boolean; loadFromDisk(dir: string): Promise<void>; dispose(): void } };
  SsdMobilenetv1Options: new (o: { minConfidence: number; maxResults: number }) => unknown;
  detectAllFaces(input: tf.Tensor3D, options: unknown): Promise<{ score: number; box: FaceApiBox }[]>;
}

let faceApi: Promise<FaceApi> | null = null;

/** face-api's Node bundle with its SSD detector loaded, once per process. */
function loadFaceApi(): Promise<FaceApi> {
  faceApi ??= (async () => {
    const dir = faceApiDir();
    let api: FaceApi;
    try {
      // The wasm flavour of face-api's Node bundle: it requires @tensorflow/tfjs (which shares this
      // process's tfjs-core engine) and the wasm backend, and runs on whatever backend is current.
      api = createRequire(import.meta.url)(join(dir, 'dist', 'face-api.node-wasm.js')) as FaceApi;
    } catch (e) {
      throw new SaliencyError('MISSING_PACKAGE', `face-api's detector needs @tensorflow/tfjs 4.22 next to @vladmandic/face-api: npm install @tensorflow/tfjs@4.22.0 (${(e as Error).message})`);
    }
    if (!api.nets.ssdMobilenetv1.isLoaded) await api.nets.ssdMobilenetv1.loadFromDisk(join(dir, 'model'));
    return api;
  })();
  faceApi.catch(() => { faceApi = null; });
  return faceApi;
}

/**
 * Finds the faces in an image with face-api's own SSD MobileNetV1 detector (the one that made
 * `assets/sample-faces.json`), on the current tfjs backend. Boxes are sorted left to right.
 * Leaves no tensors.
 *
 * @param image - RGB pixels, 0–255 (`readImage`'s result).
 * @param opts - confidence threshold and maximum count.
 * @returns the faces; empty when there are none.
 *
 * @example
 * ```ts
 * const faces = await detectFaces(await readImage('group.jpg'));
 * for (const { box } of faces) await explainFile(classifier, 'group.jpg', { method: 'gradcam', region: box, outDir: 'out' });
 * ```
 */
export async function detectFaces(image: { data: Uint8Array; width: number; height: number }, opts: DetectFacesOptions = {}): Promise<DetectedFace[]> {
  const minConfidence = opts.minConfidence ?? 0.5;
  const maxResults = opts.maxResults ?? 100;
  if (!(minConfidence >= 0 && minConfidence <= 1)) throw new SaliencyError('BAD_OPTION', `minConfidence must be in [0, 1]; got ${minConfidence}.`);
  if (!Number.isInteger(maxResults) || maxResults < 1) throw new SaliencyError('BAD_OPTION', `maxResults must be a positive integer; got ${maxResults}.`);
  if (image.data.length !== image.width * image.height * 3) {
    throw new SaliencyError('BAD_CHANNELS', `detectFaces takes RGB pixels (width × height × 3 bytes); got ${image.data.length} bytes for ${image.width}×${image.height}.`);
  }
  const api = await loadFaceApi();
  const input = api.tf.tensor3d(Int32Array.from(image.data), [image.height, image.width, 3], 'int32');
  try {
    const found = await api.detectAllFaces(input, new api.SsdMobilenetv1Options({ minConfidence, maxResults }));
    return found
      .map((f) => {
        const b = f.box.clipAtImageBorders(image.width, image.height);
        return { score: f.score, box: { x: b.x, y: b.y, width: b.width, height: b.height } };
      })
      .sort((a, b) => a.box.x - b.box.x);
  } finally {
    input.dispose();
  }
}

/**
 * Frees the detector's weights that {@link detectFaces} loaded (the next call loads them again).
 *
 * @example
 * ```ts
 * const faces = await detectFaces(image);
 * await releaseFaceDetector();
 * ```
 */
export async function releaseFaceDetector(): Promise<void> {
  if (faceApi == null) return;
  const api = await faceApi.catch(() => null);
  faceApi = null;
  if (api?.nets.ssdMobilenetv1.isLoaded === true) api.nets.ssdMobilenetv1.dispose();
}
