// fileHandler: tfjs models to and from a folder without tfjs-node, including multi-shard model.json files.
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { fileHandler } from '@saliency/node';
import { maxAbsDiff, seeded, useCpu } from '../setup_cpu';

function smallModel(): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: tfl.initializers.glorotNormal({ seed: 1 }) }));
  m.add(tfl.layers.globalAveragePooling2d({}));
  m.add(tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotNormal({ seed: 2 }) }));
  return m;
}

describe('fileHandler', () => {
  beforeAll(useCpu);

  it('saves a layers model and loads it back with identical outputs, also when the weights are split in shards', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fh-'));
    const model = smallModel();
    await model.save(fileHandler(dir));
    const x = seeded([2, 8, 8, 3], 5) as tf.Tensor4D;
    const again = await tfl.loadLayersModel(fileHandler(dir));
    const [a, b] = [model.predict(x) as tf.Tensor, again.predict(x) as tf.Tensor];
    expect(maxAbsDiff(a, b)).toBe(0);

    // Re-lay the folder out as tfjs-converter does: two shard files in one manifest group.
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    const bin = readFileSync(join(dir, 'weights.bin'));
    const cut = 64; // bytes: inside the first kernel, so a shard boundary splits a tensor
    writeFileSync(join(dir, 'group1-shard1of2.bin'), bin.subarray(0, cut));
    writeFileSync(join(dir, 'group1-shard2of2.bin'), bin.subarray(cut));
    rmSync(join(dir, 'weights.bin'));
    json.weightsManifest[0].paths = ['group1-shard1of2.bin', 'group1-shard2of2.bin'];
    writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
    const sharded = await tfl.loadLayersModel(fileHandler(dir));
    const c = sharded.predict(x) as tf.Tensor;
    expect(maxAbsDiff(a, c)).toBe(0);
    tf.dispose([x, a, b, c]);
    [model, again, sharded].forEach((m) => m.dispose());
  });

  it('says which file it cannot read', async () => {
    await expect(fileHandler('/nonexistent/dir').load!()).rejects.toMatchObject({ code: 'BAD_OPTION', message: expect.stringContaining('/nonexistent/dir/model.json') });
  });
});
