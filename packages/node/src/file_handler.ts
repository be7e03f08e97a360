import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { SaliencyError } from '@saliency/core/base';

/**
 * A tfjs IO handler that saves to and loads from a folder (`model.json` + `weights.bin`), the
 * `file://` handler tfjs-core lacks without tfjs-node. Loading reads any tfjs `model.json` with
 * its weight shards (layers or graph models from tfjs-converter or `model.save()`), so it also
 * loads your own models; saving writes one `weights.bin`. Use it for trained masking models and
 * their training checkpoints too.
 *
 * @param dir - the folder holding (or to hold, created on save) `model.json`.
 * @example
 * ```ts
 * await saveMaskingModel(model, fileHandler('out/masker'));
 * const again = await loadMaskingModel(classifier, fileHandler('out/masker'));
 * const mine = await tf.loadLayersModel(fileHandler('my-model')); // my-model/model.json + shards
 * ```
 */
export function fileHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      mkdirSync(dir, { recursive: true });
      const { weightData, weightSpecs, ...rest } = artifacts;
      const bytes = weightData == null ? new Uint8Array(0) : new Uint8Array(new tf.io.CompositeArrayBuffer(weightData).slice());
      // weights first, then model.json: a reader never sees a model.json whose weights are not written yet
      writeFileSync(join(dir, 'weights.bin'), bytes);
      writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...rest, weightsManifest: [{ paths: ['weights.bin'], weights: weightSpecs ?? [] }] }));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: bytes.byteLength } };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      let json: { weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[] } & Record<string, unknown>;
      try {
        json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as typeof json;
      } catch (e) {
        throw new SaliencyError('BAD_OPTION', `Cannot read ${join(dir, 'model.json')}: ${(e as Error).message}`);
      }
      const { weightsManifest, ...rest } = json;
      const groups = weightsManifest ?? [];
      // Every shard of every group, in manifest order (tfjs-converter and model.save() both write this layout).
      const shards = groups.flatMap((g) => g.paths).map((p) => readFileSync(join(dir, p)));
      const bin = Buffer.concat(shards);
      return {
        ...rest, weightSpecs: groups.flatMap((g) => g.weights),
        weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      } as tf.io.ModelArtifacts;
    },
  };
}
