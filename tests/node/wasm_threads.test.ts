/**
 * The threaded SIMD build of tfjs-backend-wasm under Node's worker_threads (enableWasmThreads):
 * it starts with the asked-for thread count and gives the same logits and input gradients on
 * the real bundled models as the single-threaded build, computed in a separate Node process
 * (one process can hold one wasm backend only). That process also checks that calling
 * enableWasmThreads after the backend started single-threaded changes nothing and says why.
 */
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inputGradient, selectTargets } from '@saliency/core';
import { initBackend } from '@saliency/node';
import { loadFaceExpressionClassifier, loadMobileNetV2Classifier, type BundledClassifier } from '@saliency/models';
import { enableWasmThreads, threadedWorkerScript, type WasmThreadsResult } from '../../packages/node/src/wasm_threads';

const ROOT = resolve(__dirname, '../..');
const MODELS: Array<[string, () => Promise<BundledClassifier>, number, number]> = [
  ['face', loadFaceExpressionClassifier, 112, 1],
  ['mobilenet', loadMobileNetV2Classifier, 224, 2],
];

type Result = { logits: number[]; gradient: number[] };

/** Logits and the input gradient of one target for a seeded batch of two images. */
async function compute(load: () => Promise<BundledClassifier>, size: number, target: number): Promise<Result> {
  const { classifier, dispose } = await load();
  const x = tf.randomUniform([2, size, size, 3], 0, 255, 'float32', 7);
  const logits = tf.tidy(() => classifier.logits(x as tf.Tensor4D));
  const g = inputGradient((xi: tf.Tensor4D) => selectTargets(classifier.logits(xi), [target, target]), x as tf.Tensor4D);
  const out = { logits: Array.from(await logits.data()), gradient: Array.from(await g.data()) };
  tf.dispose([x, logits, g]);
  dispose();
  return out;
}

/** The same, single-threaded, in a fresh Node process (vite-node, for the TypeScript sources). */
function singleThreadedInChild(dir: string): { late: WasmThreadsResult; results: Record<string, Result> } {
  const script = join(dir, 'single.ts');
  const out = join(dir, 'single.json');
  writeFileSync(script, `
import * as tf from '@tensorflow/tfjs-core';
import { writeFileSync } from 'node:fs';
import { inputGradient, selectTargets } from '@saliency/core';
import { initBackend } from '@saliency/node';
import { loadFaceExpressionClassifier, loadMobileNetV2Classifier } from '@saliency/models';
import { enableWasmThreads } from ${JSON.stringify(join(ROOT, 'packages/node/src/wasm_threads.ts'))};
await initBackend({ prefer: 'wasm', quiet: true });
const late = await enableWasmThreads({ threads: 2 });
const results: Record<string, unknown> = {};
for (const [name, load, size, target] of [['face', loadFaceExpressionClassifier, 112, 1], ['mobilenet', loadMobileNetV2Classifier, 224, 2]] as const) {
  const { classifier, dispose } = await load();
  const x = tf.randomUniform([2, size, size, 3], 0, 255, 'float32', 7);
  const logits = tf.tidy(() => classifier.logits(x as tf.Tensor4D));
  const g = inputGradient((xi: tf.Tensor4D) => selectTargets(classifier.logits(xi), [target, target]), x as tf.Tensor4D);
  results[name] = { logits: Array.from(await logits.data()), gradient: Array.from(await g.data()) };
  tf.dispose([x, logits, g]);
  dispose();
}
writeFileSync(process.env.SALIENCY_OUT as string, JSON.stringify({ late, results }));
`);
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/vite-node/vite-node.mjs'), '--config', join(ROOT, 'vitest.config.ts'), script], {
    cwd: ROOT, env: { ...process.env, SALIENCY_OUT: out }, encoding: 'utf8', timeout: 180_000,
  });
  expect(r.status, `child failed: ${r.stderr?.slice(-2000)}`).toBe(0);
  return JSON.parse(readFileSync(out, 'utf8'));
}

function maxRel(got: number[], ref: number[]): number {
  let d = 0, m = 0;
  for (let i = 0; i < ref.length; i++) {
    d = Math.max(d, Math.abs(got[i] - ref[i]));
    m = Math.max(m, Math.abs(ref[i]));
  }
  expect(m).toBeGreaterThan(0);
  return d / m;
}

let enabled: WasmThreadsResult;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'saliency-threads-'));
  enabled = await enableWasmThreads({ threads: 2 });
  await initBackend({ prefer: 'wasm', quiet: true });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('wasm threads in Node', () => {
  it('start the threaded SIMD build with 2 threads on worker_threads', async () => {
    expect(enabled).toEqual({ enabled: true, threads: 2 });
    expect(tf.getBackend()).toBe('wasm');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    expect(wasm.getThreadsCount()).toBe(2);
    const module = (tf.backend() as unknown as { wasm: { PThread?: { runningWorkers: unknown[] } } }).wasm;
    expect(module.PThread?.runningWorkers.length).toBeGreaterThanOrEqual(1);
    // asking again changes nothing
    expect(await enableWasmThreads({ threads: 4 })).toBe(enabled);
  });

  it('give the single-threaded results on the real models (logits and input gradients)', async () => {
    const threaded: Record<string, Result> = {};
    const before = tf.memory().numTensors;
    for (const [name, load, size, target] of MODELS) threaded[name] = await compute(load, size, target);
    expect(tf.memory().numTensors).toBe(before);
    const single = singleThreadedInChild(dir);
    // too late in the child: the backend had started single-threaded, and it says so
    expect(single.late.enabled).toBe(false);
    expect(single.late.reason).toMatch(/already initialised single-threaded/);
    for (const [name] of MODELS) {
      const l = maxRel(threaded[name].logits, single.results[name].logits);
      const g = maxRel(threaded[name].gradient, single.results[name].gradient);
      console.log(`${name}: threaded vs single-threaded, max relative difference: logits ${l.toExponential(2)}, gradient ${g.toExponential(2)}`);
      expect(threaded[name].gradient.length).toBe(2 * (name === 'face' ? 112 * 112 * 3 : 224 * 224 * 3));
      expect(l).toBeLessThanOrEqual(1e-6);
      expect(g).toBeLessThanOrEqual(1e-5);
    }
  });
});

describe('threadedWorkerScript', () => {
  it('points the Blob branch of the pthread worker at the glue file, and refuses a script it does not know', () => {
    const script = 'if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}'
      + 'else{var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)}'
      + 'x("a\nb")';
    const out = threadedWorkerScript(script, '/p/glue.js');
    expect(out).toBe('if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}else{importScripts("/p/glue.js")}x("a\\nb")');
    expect(threadedWorkerScript('something else', '/p/glue.js')).toBeNull();
  });
});
