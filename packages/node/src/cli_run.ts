import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { classModel, SaliencyError } from '@saliency/core';
import type { BundledClassifier } from '@saliency/models';
import { writeImagePng } from './image_io.js';
import { initBackend, type BackendChoice } from './backend.js';
import { explainFile, METHOD_NAMES } from './explain_files.js';
import type { Region } from './image_io.js';
import { loadEvalPackage, loadModelsPackage } from './optional_packages.js';

/**
 * The methods `saliency demo` runs on the first face of each photo: every method but `masking`,
 * which needs a masking model trained for the classifier (one ships for the digit CNN only).
 */
export const DEMO_METHODS: readonly string[] = METHOD_NAMES.filter((m) => m !== 'masking');

/** Usage text of the CLI. */
export const USAGE = `usage:
  saliency explain <image...> [--method ${METHOD_NAMES.join('|')}]... [--target N|top] [--layer NAME]
                              [--sess] [--seed N] [--masks N] [--out DIR]
                              [--backend tensorflow-gpu|tensorflow|wasm|cpu]
                              [--model face|mobilenet] [--box x,y,w,h]
  saliency demo [--out DIR] [--backend NAME]   explain face-api's sample faces with every method
                              (but masking, which needs a masking model trained for the face model)
  saliency eval [--set generated|faces|photos|all] [--methods gradient,guided,gradcam,groupcam,rise,scorecam]
                              [--no-sess] [--split small|large] [--masks N] [--out DIR] [--backend NAME]
                              the evaluation suite (pointing game, localisation, saliency metric, insertion/deletion)
                              with and without SESS; writes DIR/index.html, results.json and records.jsonl
                              (an interrupted run resumes where it stopped)
                              [--workers N] N worker processes (default: the machine's cores; 0: this process)
                              [--queue redis://host:port/db [--queue-name NAME]] jobs on a BullMQ queue instead,
                              done by \`saliency worker\` processes that see DIR (needs: npm install bullmq ioredis)
                              Ctrl-C drains: jobs in progress finish and are kept; a rerun does the rest
  saliency worker --queue redis://host:port/db [--queue-name NAME] [--lock-ms N] [--backend NAME]
                              takes evaluation jobs from the queue, one at a time, until Ctrl-C or SIGTERM
  saliency train-masker [--set generated] [--steps N] [--batch N] [--lr X] [--seed N] [--out DIR]
                              trains Dabkowski & Gal's real-time masking model for the bundled digit CNN
                              (checkpoints in DIR/checkpoint; a rerun resumes), saves DIR/model.json
  saliency classmodel --class N|NAME [--steps N] [--lr X] [--lambda X] [--model face|mobilenet] [--out DIR]
                              Simonyan's class-model visualisation, written as <model>.<class>.classmodel.png

--method may be repeated. --sess wraps the method in SESS (multi-scale sliding windows). --masks sets
RISE's number of masks (default 4000), --seed the seed of rise and smoothgrad.

--model face (default) is the face-expression classifier shipped in @vladmandic/face-api; on its demo
images the faces found by face-api's own detector are used unless --box is given. --model mobilenet
is nsfwjs's MobileNetV2 (224×224). Writes <name>.<method>.overlay.png, .map.png and .json per image.`;

type Backend = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

function parseBox(s: string): Region {
  const v = s.split(',').map(Number);
  if (v.length !== 4 || v.some((n) => !Number.isFinite(n)) || v[2] < 1 || v[3] < 1) {
    throw new SaliencyError('BAD_OPTION', `--box must be x,y,width,height in pixels (width, height ≥ 1); got '${s}'.`);
  }
  return { x: v[0], y: v[1], width: v[2], height: v[3] };
}

function parseTarget(s: string | undefined): number | 'top' {
  if (s == null || s === 'top') return 'top';
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) throw new SaliencyError('BAD_TARGET', `--target must be a class index or 'top'; got '${s}'.`);
  return n;
}

function describeBackend(b: BackendChoice): string[] {
  const lines = [`backend: ${b.name} (via ${b.via})`];
  for (const s of b.skipped) lines.push(`  skipped ${s.backend} (${s.package}): ${s.reason}`);
  if (b.bridgedKernels.length > 0) lines.push(`  gradient kernels added for this backend: ${b.bridgedKernels.join(', ')}`);
  return lines;
}

async function loadModel(name: string, command: string): Promise<BundledClassifier> {
  if (name === 'face') return (await loadModelsPackage(`saliency ${command} --model face`)).loadFaceExpressionClassifier();
  if (name === 'mobilenet') return (await loadModelsPackage(`saliency ${command} --model mobilenet`)).loadMobileNetV2Classifier();
  throw new SaliencyError('BAD_OPTION', `--model must be 'face' or 'mobilenet'; got '${name}'.`);
}

function positiveInt(s: string | undefined, flag: string): number | undefined {
  if (s == null) return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) throw new SaliencyError('BAD_OPTION', `${flag} must be a non-negative integer; got '${s}'.`);
  return n;
}

/** Layer to use for a CAM method: the flag, else the bundled model's default. */
function camLayer(method: string, flag: string | undefined, model: BundledClassifier): string | undefined {
  return flag ?? (['gradcam', 'groupcam', 'scorecam'].includes(method) ? model.camLayer : undefined);
}

/**
 * Runs a long command with an AbortSignal that the first Ctrl-C (SIGINT) or SIGTERM fires: the
 * command drains (finishes what is in progress and keeps it). A second Ctrl-C exits at once.
 */
async function withDrain(run: (signal: AbortSignal) => Promise<number>): Promise<number> {
  const ctrl = new AbortController();
  const onSignal = (): void => {
    if (ctrl.signal.aborted) process.exit(130);
    process.stderr.write('\nsaliency: stopping after the work in progress (Ctrl-C again to quit now)\n');
    ctrl.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await run(ctrl.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function fmt(p: number): string {
  return (100 * p).toFixed(1) + '%';
}

/**
 * Runs the CLI with the given arguments, printing through `print`. Resolves to the exit code.
 *
 * @example
 * ```ts
 * await runCli(['explain', 'face.jpg', '--method', 'gradcam', '--out', 'out'], console.log);
 * ```
 */
export async function runCli(argv: string[], print: (line: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      method: { type: 'string', multiple: true },
      target: { type: 'string' },
      layer: { type: 'string' },
      out: { type: 'string' },
      backend: { type: 'string' },
      model: { type: 'string', default: 'face' },
      box: { type: 'string' },
      sess: { type: 'boolean', default: false },
      class: { type: 'string' },
      steps: { type: 'string' },
      lr: { type: 'string' },
      lambda: { type: 'string' },
      seed: { type: 'string' },
      masks: { type: 'string' },
      set: { type: 'string' },
      methods: { type: 'string' },
      'no-sess': { type: 'boolean', default: false },
      split: { type: 'string' },
      batch: { type: 'string' },
      workers: { type: 'string' },
      queue: { type: 'string' },
      'queue-name': { type: 'string' },
      'lock-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...images] = positionals;
  if (values.help === true || command == null) {
    print(USAGE);
    return command == null && values.help !== true ? 2 : 0;
  }
  if (command !== 'explain' && command !== 'demo' && command !== 'classmodel' && command !== 'eval' && command !== 'train-masker' && command !== 'worker') {
    throw new SaliencyError('BAD_OPTION', `Unknown command '${command}'.\n${USAGE}`);
  }
  const backend = await initBackend({ prefer: values.backend as Backend | undefined });
  describeBackend(backend).forEach(print);
  const outDir = resolve(values.out ?? 'out');

  if (command === 'train-masker') {
    const { runTrainMaskerCommand } = await loadEvalPackage('saliency train-masker');
    return runTrainMaskerCommand({
      set: values.set, steps: positiveInt(values.steps, '--steps'), batch: positiveInt(values.batch, '--batch'),
      seed: positiveInt(values.seed, '--seed'), lr: values.lr == null ? undefined : Number(values.lr), out: values.out ?? 'masker',
    }, print);
  }

  if (command === 'eval') {
    const { runEvalCommand } = await loadEvalPackage('saliency eval');
    return withDrain((signal) => runEvalCommand({
      set: values.set, methods: values.methods, sess: values.sess, 'no-sess': values['no-sess'], split: values.split,
      masks: positiveInt(values.masks, '--masks'), out: values.out ?? 'report',
      environment: `backend ${backend.name} (via ${backend.via}), tfjs ${tf.version_core}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), node ${process.version}`,
      workers: positiveInt(values.workers, '--workers') ?? availableParallelism(), queue: values.queue, queueName: values['queue-name'],
      backend: values.backend,
    }, print, signal));
  }

  if (command === 'worker') {
    const { runWorkerCommand } = await loadEvalPackage('saliency worker');
    return withDrain((signal) => runWorkerCommand({
      queue: values.queue, queueName: values['queue-name'], lockMs: positiveInt(values['lock-ms'], '--lock-ms'),
    }, print, signal));
  }

  if (command === 'classmodel') {
    const model = await loadModel(values.model ?? 'face', 'classmodel');
    try {
      const names = model.classifier.classNames ?? [];
      const wanted = values.class;
      const c = wanted == null ? -1 : names.indexOf(wanted) >= 0 ? names.indexOf(wanted) : Number(wanted);
      if (!Number.isInteger(c) || c < 0 || c >= model.classifier.numClasses) {
        throw new SaliencyError('BAD_TARGET', `--class must be a class index 0…${model.classifier.numClasses - 1} or one of: ${names.join(', ')}.`);
      }
      const num = (v: string | undefined, flag: string): number | undefined => {
        if (v == null) return undefined;
        const n = Number(v);
        if (!Number.isFinite(n) || n <= 0) throw new SaliencyError('BAD_OPTION', `${flag} must be a positive number; got '${v}'.`);
        return n;
      };
      const steps = positiveInt(values.steps, '--steps');
      const t0 = performance.now();
      const image = await classModel(model.classifier, c, {
        steps, lr: num(values.lr, '--lr'), lambda: num(values.lambda, '--lambda'),
        onProgress: (p) => { if (p.done === p.total) print(`  ${p.done}/${p.total} steps`); },
      });
      const file = join(outDir, `${values.model ?? 'face'}.${names[c] ?? c}.classmodel.png`);
      try {
        await writeImagePng(image, file, { range: model.classifier.inputRange, stretch: true });
      } finally {
        image.dispose();
      }
      print(`class model for ${names[c] ?? c}: wrote ${file} (${Math.round(performance.now() - t0)} ms)`);
    } finally {
      model.dispose();
    }
    return 0;
  }

  if (command === 'demo') {
    const { loadFaceExpressionClassifier, sampleFaces } = await loadModelsPackage('saliency demo');
    const model = await loadFaceExpressionClassifier();
    try {
      // Every method on the first face of each photo; the two fast ones on every face.
      for (const sample of sampleFaces()) {
        for (const [i, face] of sample.faces.entries()) {
          for (const method of i === 0 ? DEMO_METHODS : (['gradient', 'gradcam'] as const)) {
            const s = await explainFile(model.classifier, sample.path, {
              method, layer: camLayer(method, undefined, model), outDir, region: face.box, target: 'top', label: `face${i + 1}`, seed: 0,
            });
            print(`${sample.path.split('/').pop()} face ${i + 1} ${s.method}: ${s.target.name} ${fmt(s.target.probability)} → ${s.files.overlay} (${s.ms} ms)`);
          }
        }
      }
    } finally {
      model.dispose();
    }
    print(`tensors still allocated: ${tf.memory().numTensors}`);
    return 0;
  }

  if (images.length === 0) throw new SaliencyError('BAD_OPTION', `explain needs at least one image path.\n${USAGE}`);
  const methods = values.method ?? ['gradcam'];
  const target = parseTarget(values.target);
  const box = values.box != null ? parseBox(values.box) : null;
  const model = await loadModel(values.model ?? 'face', 'explain');
  const { sampleFaceBoxes } = await loadModelsPackage('saliency explain');
  try {
    for (const image of images) {
      const regions: (Region | null)[] = box != null ? [box]
        : values.model === 'face' || values.model == null ? sampleFaceBoxes(image) ?? [null] : [null];
      for (const [i, region] of regions.entries()) {
        for (const method of methods) {
          const s = await explainFile(model.classifier, image, {
            method, layer: camLayer(method, values.layer, model), target, outDir, region,
            sess: values.sess === true, seed: positiveInt(values.seed, '--seed'), masks: positiveInt(values.masks, '--masks'),
            label: regions.length > 1 ? `face${i + 1}` : undefined,
          });
          const where = region != null ? ` [box ${region.x},${region.y},${region.width},${region.height}]` : '';
          print(`${image}${regions.length > 1 ? ` face ${i + 1}` : ''}${where}`);
          print(`  top: ${s.top.map((t) => `${t.name ?? t.index} ${fmt(t.probability)}`).join(', ')}`);
          print(`  ${s.method}${s.layer != null ? ` @ ${s.layer}` : ''} for ${s.target.name ?? s.target.index}: peak at (${s.peak.x}, ${s.peak.y}), ${s.ms} ms`);
          print(`  wrote ${s.files.overlay}, ${s.files.map}, ${s.files.summary}`);
        }
      }
    }
  } finally {
    model.dispose();
  }
  return 0;
}
