import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as tf from '@tensorflow/tfjs-core';

/**
 * Absolute path of a file or folder in this package's `assets/`, found by walking up from this
 * module (so it works from `src/` under vitest and from `dist/` once built). Internal.
 */
export function findAsset(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'assets', name);
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new Error(`@saliency/models: asset ${name} not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/**
 * A saved tfjs model folder (`model.json` + its weight shards) read into memory: every field of
 * `model.json` but `weightsManifest`, the weight specs of all groups and one buffer of all shards in
 * manifest order (what `tf.io.fromMemory` and the masking model's loader take). Internal.
 */
export async function readModelFolder(dir: string): Promise<tf.io.ModelArtifacts> {
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as { weightsManifest: tf.io.WeightsManifestConfig } & Record<string, unknown>;
  const { weightsManifest, ...rest } = json;
  const bytes = Buffer.concat(await Promise.all(weightsManifest.flatMap((g) => g.paths).map((p) => readFile(join(dir, p)))));
  return {
    ...rest,
    weightSpecs: weightsManifest.flatMap((g) => g.weights),
    weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
  } as tf.io.ModelArtifacts;
}
