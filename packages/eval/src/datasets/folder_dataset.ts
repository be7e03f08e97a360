import { existsSync, statSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import sharp from 'sharp';
import { glob } from 'tinyglobby';
import { SaliencyError } from '@saliency/core/base';
import { datasetError, type DatasetOptions, type DatasetReadResult } from './dataset.js';

/** File extensions a folder dataset takes (what sharp decodes). */
export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif'] as const;

/**
 * Every image of a folder (recursively, by extension) or of a glob pattern (`photos/**\/*.jpg`),
 * in sorted order, one item each, target `opts.target` (default `'top'`), no boxes. A file sharp
 * cannot read is skipped and counted.
 *
 * @param dirOrGlob - a folder or a glob pattern.
 * @param opts - the target (`labels` only checks a numeric target).
 * @returns the items (ids are paths relative to the folder, or to the working directory for a glob).
 * @throws SaliencyError `BAD_DATASET` when nothing matches; `BAD_TARGET` for a target outside the labels.
 *
 * @example
 * ```ts
 * const { items } = await readFolderDataset('photos', { labels, target: 'top' });
 * ```
 */
export async function readFolderDataset(dirOrGlob: string, opts: DatasetOptions): Promise<DatasetReadResult> {
  const target = opts.target ?? 'top';
  if (typeof target === 'number' && opts.labels.length > 0 && (target < 0 || target >= opts.labels.length || !Number.isInteger(target))) {
    throw new SaliencyError('BAD_TARGET', `--target ${target} is outside the model's classes 0…${opts.labels.length - 1}.`);
  }
  const isDir = existsSync(dirOrGlob) && statSync(dirOrGlob).isDirectory();
  const base = isDir ? resolve(dirOrGlob) : process.cwd();
  const files = isDir
    ? await glob(`**/*.{${IMAGE_EXTENSIONS.join(',')}}`, { cwd: base, absolute: true, caseSensitiveMatch: false })
    : await glob(dirOrGlob, { cwd: base, absolute: true });
  if (files.length === 0) throw datasetError(`No images in ${dirOrGlob}${isDir ? ` (looked for ${IMAGE_EXTENSIONS.join(', ')})` : ''}.`);
  files.sort();
  const result: DatasetReadResult = { items: [], skipped: [] };
  for (const file of files) {
    const id = relative(base, file).split('\\').join('/');
    try {
      const meta = await sharp(file).metadata();
      if (meta.width == null || meta.height == null) throw new Error('no size');
      const rotated = (meta.orientation ?? 1) >= 5;
      result.items.push({
        id, imagePath: file, width: rotated ? meta.height : meta.width, height: rotated ? meta.width : meta.height,
        objects: [], target, difficultSubset: false,
      });
    } catch (e) {
      result.skipped.push({ id, reason: `not a readable image: ${(e as Error).message}` });
    }
  }
  return result;
}
