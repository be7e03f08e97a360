/**
 * The entry of an explain worker process (`child_process.fork`ed by `runExplainPool`, i.e.
 * `saliency explain --workers N`): initialises the backend its parent names (one wasm thread:
 * `SALIENCY_WORKER_PROCESS`), loads the model once, then explains the inputs its parent sends,
 * one at a time, with every method, and sends back the summaries or the error. Ctrl-C reaches
 * the whole process group: the worker ignores it and lets its parent decide (the parent drains:
 * it sends no new input and stops the workers when theirs are done).
 *
 * @packageDocumentation
 */
import { initBackend, type NodeBackend } from './backend.js';
import { camLayer } from './cam_layer.js';
import { explainFile, type FileSummary } from './explain_files.js';
import { explainError, type ExplainSettings, type FromExplainChild, type ToExplainChild } from './explain_pool.js';
import { loadClassifier, type LoadedClassifier } from './load_classifier.js';
import { presetMasker } from './preset_masker.js';
import type { MaskingModel } from '@saliency/core';

const send = (m: FromExplainChild): Promise<void> => new Promise((resolve) => {
  if (process.send == null || !process.connected) resolve();
  else process.send(m, undefined, {}, () => resolve());
});

process.on('SIGINT', () => {});
process.on('disconnect', () => process.exit(0));

let settings: ExplainSettings | null = null;
let model: LoadedClassifier | null = null;
let masker: MaskingModel | undefined;
let chain = Promise.resolve();

async function handle(m: ToExplainChild): Promise<void> {
  if (m.type === 'init') {
    settings = m.settings;
    try {
      await initBackend({ prefer: settings.backend as NodeBackend | undefined, quiet: true });
      model = await loadClassifier(settings.model);
      masker = await presetMasker(model, settings.methods);
    } catch (e) {
      await send({ type: 'fatal', error: explainError(e) });
      process.exit(1);
    }
    await send({ type: 'ready' });
    return;
  }
  if (m.type === 'stop') {
    masker?.dispose();
    masker = undefined;
    model?.dispose();
    model = null;
    process.disconnect();
    return;
  }
  if (settings == null || model == null) return;
  const { input, index } = m;
  const summaries: FileSummary[] = [];
  try {
    for (const method of settings.methods) {
      summaries.push(await explainFile(model.classifier, input.path, {
        method, layer: camLayer(method, settings.layer, model), target: input.target, outDir: settings.outDir, region: input.region,
        sess: settings.sess === true, seed: settings.seed, masks: settings.masks, label: input.label, masker,
      }));
    }
    await send({ type: 'result', index, outcome: { summaries, error: null } });
  } catch (e) {
    await send({ type: 'result', index, outcome: { summaries, error: explainError(e) } });
  }
}

process.on('message', (m: ToExplainChild) => {
  chain = chain.then(() => handle(m)).catch((e: unknown) => {
    process.stderr.write(`saliency explain worker: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
});
