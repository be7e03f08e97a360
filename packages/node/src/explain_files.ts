import { writeFile, mkdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  ablationCam, eigenCam, explain, gradCam, gradCamPlusPlus, groupCam, guidedBackprop, guidedGradCam, hiResCam, imageToTensor, inputXGradient,
  integratedGradients, layerCam, maskingModel, meaningfulPerturbation, occlusion, rise, SaliencyError, scoreCam, sess, xGradCam,
  SMOOTH_GRAD_SAMPLES, vanillaGradient, type MaskingModel,
  type Classifier, type Progress, type SaliencyMethod, type SessOptions,
} from '@saliency/core';
import { readImage, writeMapPng, writeOverlayPng, type Region } from './image_io.js';

/** Method names the CLI and {@link explainFile} accept. */
export const METHOD_NAMES = [
  'gradient', 'guided', 'smoothgrad', 'gradcam', 'groupcam', 'scorecam', 'rise', 'masking', 'perturbation',
  'gradcam++', 'xgradcam', 'layercam', 'hirescam', 'eigencam', 'ablationcam', 'guidedgradcam', 'inputxgradient',
  'integratedgradients', 'occlusion',
] as const;

/** The methods that take a CAM layer (`layer`). */
export const CAM_METHOD_NAMES: readonly string[] = [
  'gradcam', 'groupcam', 'scorecam', 'gradcam++', 'xgradcam', 'layercam', 'hirescam', 'eigencam', 'ablationcam', 'guidedgradcam',
];
/** One of {@link METHOD_NAMES}. */
export type MethodName = (typeof METHOD_NAMES)[number];

/** Options {@link methodByName} passes on to the method it builds. */
export interface MethodChoice {
  /** Layer for the CAM methods ({@link CAM_METHOD_NAMES}); default `'auto'`. */
  layer?: string;
  /** Wrap the method in SESS (multi-scale sliding windows; any image size). */
  sess?: boolean;
  /** SESS options when `sess` is set (default: SESS's own defaults, the paper's display settings). */
  sessOptions?: SessOptions;
  /** Seed of the stochastic methods (`smoothgrad`, `rise`). */
  seed?: number;
  /** Number of RISE masks (default 4000). */
  masks?: number;
  /** The trained masking model `masking` uses (see `trainMasker`, `loadDigitMasker`). */
  masker?: MaskingModel;
  /** Called after each batch of a long method. */
  onProgress?: (p: Progress) => void;
}

/**
 * Builds a method from its CLI name (`gradient`, `guided`, `smoothgrad`, `gradcam`, `groupcam`,
 * `scorecam`, `rise`, `masking` (needs `masker`), `perturbation` = meaningful perturbation, `gradcam++`, `xgradcam`,
 * `layercam`, `hirescam`, `eigencam`, `ablationcam`, `guidedgradcam`, `inputxgradient`, `integratedgradients`,
 * `occlusion`), optionally wrapped in SESS.
 *
 * @example
 * ```ts
 * const method = methodByName('rise', { masks: 2000, seed: 1, sess: true });
 * ```
 */
export function methodByName(name: string, opts: MethodChoice = {}): SaliencyMethod {
  const { layer, seed, onProgress } = opts;
  let m: SaliencyMethod;
  switch (name) {
    case 'gradient': m = vanillaGradient({ onProgress }); break;
    case 'guided': m = guidedBackprop({ onProgress }); break;
    case 'smoothgrad': m = vanillaGradient({ samples: SMOOTH_GRAD_SAMPLES, seed, onProgress }); break;
    case 'gradcam': m = gradCam({ layer, onProgress }); break;
    case 'groupcam': m = groupCam({ layer, onProgress }); break;
    case 'scorecam': m = scoreCam({ layer, onProgress }); break;
    case 'rise': m = rise({ n: opts.masks, seed, onProgress }); break;
    case 'masking':
      if (opts.masker == null) {
        throw new SaliencyError('BAD_OPTION', "Method 'masking' needs a trained masking model: they ship for --model digits and face (loaded by the CLI); for another model train one with trainMaskingModel() (`saliency train-masker` trains the bundled ones) and load it with loadMaskingModel(classifier, fileHandler(dir)).");
      }
      m = maskingModel(opts.masker, { onProgress });
      break;
    case 'perturbation': m = meaningfulPerturbation({ seed, onProgress }); break;
    case 'gradcam++': m = gradCamPlusPlus({ layer, onProgress }); break;
    case 'xgradcam': m = xGradCam({ layer, onProgress }); break;
    case 'layercam': m = layerCam({ layer, onProgress }); break;
    case 'hirescam': m = hiResCam({ layer, onProgress }); break;
    case 'eigencam': m = eigenCam({ layer, onProgress }); break;
    case 'ablationcam': m = ablationCam({ layer, onProgress }); break;
    case 'guidedgradcam': m = guidedGradCam({ layer, onProgress }); break;
    case 'inputxgradient': m = inputXGradient({ onProgress }); break;
    case 'integratedgradients': m = integratedGradients({ seed, onProgress }); break;
    case 'occlusion': m = occlusion({ onProgress }); break;
    default:
      throw new SaliencyError('BAD_OPTION', `Unknown method '${name}'. Choose one of: ${METHOD_NAMES.join(', ')}.`);
  }
  return opts.sess === true ? sess(m, opts.sessOptions) : m;
}

/** A class with its probability. */
export interface ClassScore {
  /** Class index. */
  index: number;
  /** Class name, when the classifier has names. */
  name: string | null;
  /** Softmax probability. */
  probability: number;
}

/** What {@link explainFile} wrote and found, also saved as the JSON summary. */
export interface FileSummary {
  /** The image file. */
  image: string;
  /** The region that was explained, or `null` for the whole image. */
  region: Region | null;
  /** The method's name. */
  method: string;
  /** The layer Grad-CAM used, or `null` for methods without one. */
  layer: string | null;
  /** The class explained. */
  target: ClassScore;
  /** The most probable classes, best first. */
  top: ClassScore[];
  /** Location of the map's maximum, in pixels of the explained region. */
  peak: {
    /** Column. */
    x: number;
    /** Row. */
    y: number;
  };
  /** Time the method took, in milliseconds. */
  ms: number;
  /** The files written. */
  files: {
    /** The map blended over the image. */
    overlay: string;
    /** The map alone, grayscale. */
    map: string;
    /** This summary as JSON. */
    summary: string;
  };
}

/**
 * Explains one image file (or a region of it) and writes `<name>.<method>.overlay.png`,
 * `<name>.<method>.map.png` (the raw map, grayscale) and `<name>.<method>.json` into `outDir`.
 *
 * @example
 * ```ts
 * const summary = await explainFile(classifier, 'face.jpg', { method: 'gradcam', outDir: 'out' });
 * ```
 */
export async function explainFile(
  classifier: Classifier,
  path: string,
  opts: MethodChoice & {
    /** One of {@link METHOD_NAMES}. */
    method: string;
    /** Class to explain; default the top class. */
    target?: number | 'top';
    /** Folder the files go to (created when missing). */
    outDir: string;
    /** Explain only this rectangle, padded to a square (the face model's crop). */
    region?: Region | null;
    /** How many top classes the summary lists (default 3). */
    topK?: number;
    /** Added to the file stem, e.g. `face2` → `photo.face2.gradcam.overlay.png`. */
    label?: string;
  },
): Promise<FileSummary> {
  const method = methodByName(opts.method, opts);
  const fileName = method.name.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/-+$/, '');
  const image = await readImage(path, opts.region != null ? { region: opts.region, square: true } : {});
  const x = imageToTensor(image, classifier.inputRange, classifier.channels);
  const resized = tf.image.resizeBilinear(x, [...classifier.inputSize] as [number, number], false, true);
  const probs = classifier.probabilities(resized);
  const p = Array.from(await probs.data());
  tf.dispose([x, resized, probs]);
  const order = p.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]);
  const target = opts.target === undefined || opts.target === 'top' ? order[0][1] : opts.target;
  if (!Number.isInteger(target) || target < 0 || target >= classifier.numClasses) {
    throw new SaliencyError('BAD_TARGET', `Class index ${target} is out of range: the classifier has classes 0…${classifier.numClasses - 1}.`);
  }
  const name = (i: number): string | null => classifier.classNames?.[i] ?? null;
  const t0 = performance.now();
  const map = await explain(method, classifier, image, { target });
  const ms = performance.now() - t0;
  const stem = basename(path, extname(path)) + (opts.label != null ? `.${opts.label}` : '');
  await mkdir(opts.outDir, { recursive: true });
  const files = {
    overlay: join(opts.outDir, `${stem}.${fileName}.overlay.png`),
    map: join(opts.outDir, `${stem}.${fileName}.map.png`),
    summary: join(opts.outDir, `${stem}.${fileName}.json`),
  };
  let peak = { x: 0, y: 0 };
  try {
    const flat = tf.tidy(() => tf.argMax(tf.reshape(map, [-1])));
    const at = (await flat.data())[0];
    flat.dispose();
    peak = { x: at % image.width, y: Math.floor(at / image.width) };
    await writeOverlayPng(image, map, files.overlay);
    await writeMapPng(map, files.map);
  } finally {
    map.dispose();
  }
  const summary: FileSummary = {
    image: path,
    region: opts.region ?? null,
    method: method.name,
    layer: CAM_METHOD_NAMES.includes(opts.method) ? classifier.at(opts.layer ?? 'auto').name : null,
    target: { index: target, name: name(target), probability: p[target] },
    top: order.slice(0, opts.topK ?? 3).map(([v, i]) => ({ index: i, name: name(i), probability: v })),
    peak,
    ms: Math.round(ms),
    files,
  };
  await writeFile(files.summary, JSON.stringify(summary, null, 2) + '\n');
  return summary;
}
