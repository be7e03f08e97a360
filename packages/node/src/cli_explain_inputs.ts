import { SaliencyError } from '@saliency/core/base';
import { readImage, type Region } from './image_io.js';
import { loadEvalPackage, loadModelsPackage } from './optional_packages.js';

/** One thing `saliency explain` explains: an image (or a region of it) for a target. */
export interface ExplainInput {
  /** The image file. */
  path: string;
  /** Class to explain. */
  target: number | 'top';
  /** The region (a face box, `--box`), or null for the whole image. */
  region: Region | null;
  /** Added to the output file stem (`face2`, or the class of a dataset item). */
  label?: string;
  /** 1-based face number when the image has several faces. */
  face?: number;
  /** The class name of a dataset item (for the printout). */
  className?: string;
  /** Why the image could not be prepared (unreadable file, a directory): the CLI reports it and goes on. */
  error?: Error;
}

/** What `saliency explain` was asked to explain. */
export interface ExplainSources {
  /** Image paths given as arguments. */
  images: string[];
  /** `--images <dir|glob>`. */
  imagesGlob?: string;
  /** `--dataset voc:<dir> | coco:<json>,<dir> | <dir|glob>`. */
  dataset?: string;
  /** `--class-map <json>`. */
  classMap?: string;
  /** `--split` (the VOC split with `--dataset voc:`). */
  split?: string;
  /** `--target`. */
  target: number | 'top';
  /** `--box`. */
  box: Region | null;
  /** Whether the model is the face preset: images are searched for faces unless `--box` is given. */
  faces: boolean;
  /** The model's class names. */
  labels: readonly string[];
}

function fileLabel(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '') || 'class';
}

/**
 * Expands the CLI's image arguments, `--images` and `--dataset` into what to explain: with the
 * face preset and no `--box`, every face face-api's detector finds (an image without a face is
 * reported and left out, never explained as one big face); dataset items keep their class.
 * Prints what was skipped and why.
 *
 * @param src - the parsed flags.
 * @param print - where notes go.
 * @returns the inputs, in order.
 *
 * @example
 * ```ts
 * const inputs = await explainInputs({ images: ['a.jpg'], target: 'top', box: null, faces: true, labels }, console.log);
 * ```
 */
export async function explainInputs(src: ExplainSources, print: (line: string) => void): Promise<ExplainInput[]> {
  const wholeImages: { path: string; target: number | 'top'; label?: string; className?: string }[] = src.images.map((path) => ({ path, target: src.target }));
  for (const [flag, spec] of [['--images', src.imagesGlob], ['--dataset', src.dataset]] as const) {
    if (spec == null) continue;
    if (flag === '--images' && /^(voc|coco):/.test(spec)) throw new SaliencyError('BAD_OPTION', `--images takes a folder or a glob; use --dataset ${spec} for annotated datasets.`);
    const { readDataset, readClassMap } = await loadEvalPackage(`saliency explain ${flag}`);
    const classMap = src.classMap != null ? readClassMap(src.classMap) : undefined;
    const read = await readDataset(spec, { labels: src.labels, classMap, split: src.split, target: src.target });
    print(`${flag} ${spec}: ${read.items.length} item(s)${read.skipped.length > 0 ? `, ${read.skipped.length} skipped` : ''}`);
    for (const s of read.skipped.slice(0, 10)) print(`  skipped ${s.id}: ${s.reason}`);
    if (read.skipped.length > 10) print(`  … and ${read.skipped.length - 10} more`);
    for (const item of read.items) {
      const label = typeof item.target === 'number' && item.objects.length > 0 ? fileLabel(src.labels[item.target] ?? String(item.target)) : undefined;
      wholeImages.push({ path: item.imagePath, target: item.target, label, className: label != null ? src.labels[item.target as number] : undefined });
    }
  }
  if (src.box != null) return wholeImages.map((w) => ({ ...w, region: src.box }));
  if (!src.faces) return wholeImages.map((w) => ({ ...w, region: null }));
  const { detectFaces } = await loadModelsPackage('saliency explain with the face model');
  const out: ExplainInput[] = [];
  for (const w of wholeImages) {
    let faces: Awaited<ReturnType<typeof detectFaces>>;
    try {
      faces = await detectFaces(await readImage(w.path));
    } catch (e) {
      out.push({ path: w.path, target: w.target, region: null, error: e instanceof Error ? e : new Error(String(e)) });
      continue;
    }
    if (faces.length === 0) {
      print(`${w.path}: face-api's detector (SSD MobileNetV1, confidence ≥ 0.5) found no face; not explained. Pass --box x,y,width,height to explain a region as a face.`);
      continue;
    }
    faces.forEach((f, i) => out.push({
      path: w.path, target: w.target, region: f.box, className: w.className,
      label: faces.length > 1 ? [w.label, `face${i + 1}`].filter((l) => l != null).join('.') : w.label,
      face: faces.length > 1 ? i + 1 : undefined,
    }));
  }
  return out;
}
