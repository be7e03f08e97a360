import { constants, existsSync } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { basename, dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { classModel, SaliencyError } from '@saliency/core';
import { writeImagePng } from './image_io.js';
import { initBackend, type BackendChoice } from './backend.js';
import { explainFile, METHOD_NAMES, methodByName } from './explain_files.js';
import { camLayer } from './cam_layer.js';
import { runExplainCommand } from './cli_explain_command.js';
import type { Region } from './image_io.js';
import { loadClassifier, type LoadedClassifier } from './load_classifier.js';
import { modelSpecFromFlags, type ModelFlags } from './cli_model_flags.js';
import { loadEvalPackage, loadModelsPackage } from './optional_packages.js';
import { explainInputs } from './cli_explain_inputs.js';

/**
 * The methods `saliency demo` runs on the first face of each photo: every method but `masking`,
 * which the demo adds when the face masker ships (`hasBundledMasker('face')` of `@saliency/models`).
 */
export const DEMO_METHODS: readonly string[] = METHOD_NAMES.filter((m) => m !== 'masking');

/** Usage text of the CLI. */
export const USAGE = `usage:
  saliency explain <image...> [--method ${METHOD_NAMES.join('|')}]... [--target N|top] [--layer NAME]
                              [--sess] [--seed N] [--masks N] [--out DIR]
                              [--backend tensorflow-gpu|webgpu|tensorflow|wasm|cpu]
                              [--model face|mobilenet|digits|<dir>|<model.json>] [--box x,y,w,h]
                              [--images <dir|glob>] [--dataset voc:<dir>|coco:<instances.json>,<image dir>]
                              [--class-map <json>] [--split NAME] [--workers N]
  saliency demo [--out DIR] [--backend NAME]   explain face-api's sample faces with every method
                              (but masking, which needs a masking model trained for the face model)
  saliency eval [--set generated|faces|photos|all] [--methods gradient,guided,gradcam,…|all]
                              [--no-sess] [--no-metrics] [--split small|large] [--masks N] [--out DIR] [--backend NAME]
                              the evaluation suite (pointing game, localisation, saliency metric, insertion/deletion)
                              with and without SESS; writes DIR/index.html, results.json and records.jsonl
                              (an interrupted run resumes where it stopped); --no-metrics: the maps and
                              their times only; every run ends with its throughput (jobs/s). --methods
                              default: gradient,guided,gradcam,groupcam,rise,scorecam,masking,perturbation;
                              all: those and gradcam++,xgradcam,layercam,hirescam,eigencam,ablationcam,
                              guidedgradcam,inputxgradient,integratedgradients,occlusion
  saliency eval --dataset voc:<dir>|coco:<json>,<dir> | --images <dir|glob>  --model <preset|dir|model.json>
                              [--class-map <json>] [--split NAME] [--target N|top] [--methods …] [--no-sess] [--out DIR]
                              the same measures on your data with your model (folders: insertion/deletion only)
                              [--workers N] N worker processes (default: the machine's cores; 0: this process)
                              [--queue redis://host:port/db [--queue-name NAME]] jobs on a BullMQ queue instead,
                              done by \`saliency worker\` processes that see DIR (needs: npm install bullmq ioredis)
                              Ctrl-C drains: jobs in progress finish and are kept; a rerun does the rest
  saliency worker --queue redis://host:port/db [--queue-name NAME] [--lock-ms N] [--backend NAME]
                              takes evaluation jobs from the queue, one at a time, until Ctrl-C or SIGTERM
  saliency train-masker [--set generated|faces] [--steps N] [--batch N] [--lr X] [--seed N] [--out DIR]
                              [--encoder-layers A,B,C] [--channels N|N,M] [--upsampler separable|conv] [--finest-block follow|lateral]
                              trains Dabkowski & Gal's real-time masking model for the digit CNN (generated) or the face net (faces)
                              (checkpoints in DIR/checkpoint; a rerun resumes), saves DIR/model.json
  saliency classmodel --class N|NAME [--steps N] [--lr X] [--lambda X] [--model …] [--out DIR]
                              Simonyan's class-model visualisation, written as <model>.<class>.classmodel.png

--method may be repeated. --sess wraps the method in SESS (multi-scale sliding windows). --masks sets
RISE's number of masks (default 4000), --seed the seed of rise and smoothgrad.

--model face (default) is the face-expression classifier shipped in @vladmandic/face-api: unless --box
is given, the faces face-api's own detector finds are explained one by one (an image without a face is
reported and skipped). --model mobilenet is nsfwjs's MobileNetV2 (224×224), --model digits the digit
CNN of the generated scenes. Any other --model is a folder holding model.json, or the model.json (tfjs
layers or graph model), described by --input-size H,W, --range lo,hi (what the model wants; images are
read in 0–255), --mean, --std (one value or one per channel), --labels <txt|json>, --layer NAME, or one
--config model.saliency.json holding those fields (read by default from beside model.json).

--images explains every image of a folder or glob for --target (default: the top class). --dataset
reads a Pascal VOC folder (Annotations/, JPEGImages/, ImageSets/Main/<--split>.txt) or a COCO instances
file and explains each (image, class present); --class-map maps the dataset's class names to the
model's (exact names otherwise); items of classes the model lacks are skipped and counted.
Writes <name>.<method>.overlay.png, .map.png and .json per image.
explain goes on past an image it cannot read or explain, reports each on its own line on stderr and
ends with a count. With several images (or faces), --workers N (default: the machine's cores; 0 or 1:
this process) explains them in N worker processes, each loading the model on its own backend and
taking one image at a time; the output is printed in input order and the files are the same. An image
whose worker dies is tried once more. Ctrl-C or SIGTERM drains: the images in progress finish.

Exit status: 0 success; 1 some images failed (explain) or an unexpected error; 2 a usage error (unknown
command or flag, bad value, unwritable --out) or another coded error, printed as [CODE] before any work;
130 explain stopped by Ctrl-C or SIGTERM before its last image.

The wasm backend runs one thread per core (at most 8). SALIENCY_WASM_THREADS=off|on|N sets that;
processes started by a multi-process run (SALIENCY_WORKER_PROCESS=1) use one thread each.`;

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

/** Makes `dir` (and its parents) and checks it can be written; throws `BAD_OPTION` naming the flag. */
async function ensureWritableDir(dir: string, flag = '--out'): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new SaliencyError('BAD_OPTION', `${flag} '${dir}' cannot be written${err.code != null ? ` (${err.code})` : ''}: ${err.message}. Give a directory you can write to.`);
  }
}

function describeBackend(b: BackendChoice): string[] {
  const lines = [`backend: ${b.name} (via ${b.via})`];
  if (b.name === 'webgpu' && b.adapter != null) {
    lines.push(`  adapter ${b.adapter.name} (${b.adapter.description || b.adapter.device})${b.adapter.isCpu ? ', a CPU device' : ''}`);
  }
  for (const s of b.skipped) lines.push(`  skipped ${s.backend} (${s.package}): ${s.reason}`);
  if (b.bridgedKernels.length > 0) lines.push(`  gradient kernels added for this backend: ${b.bridgedKernels.join(', ')}`);
  if (b.name === 'wasm' && b.wasmThreads != null) lines.push(`  wasm threads: ${b.wasmThreads.threads} (${b.wasmThreads.reason})`);
  return lines;
}

async function loadModel(flags: ModelFlags): Promise<LoadedClassifier> {
  return loadClassifier(modelSpecFromFlags(flags));
}

/** A flag that takes a whole number ≥ 0 (digits only: '', '1.5', '-1', '1e3' are refused). */
function nonNegativeInt(s: string | undefined, flag: string): number | undefined {
  if (s == null) return undefined;
  const n = /^\s*\d+\s*$/.test(s) ? Number(s) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new SaliencyError('BAD_OPTION', `${flag} must be a non-negative integer; got '${s}'.`);
  return n;
}

/** A short name of the model for file names: the preset, or the model's folder. */
function modelName(model: LoadedClassifier): string {
  const p = model.spec.path ?? 'model';
  return model.spec.preset ?? (p.toLowerCase().endsWith('.json') ? basename(dirname(p)) : basename(p));
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
 * Runs the CLI with the given arguments, printing through `print` (and per-image failures
 * through `printError`). Resolves to the exit code: 0, or 1 when some images failed; usage
 * errors (unknown command or flag, bad values, an unwritable `--out`) reject with a
 * `SaliencyError` before the backend is chosen (the `saliency` binary exits 2 for them).
 *
 * @param printError - where failures of single images go (default: `print`).
 *
 * @example
 * ```ts
 * await runCli(['explain', 'face.jpg', '--method', 'gradcam', '--out', 'out'], console.log);
 * ```
 */
export async function runCli(argv: string[], print: (line: string) => void, printError: (line: string) => void = print): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
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
        'input-size': { type: 'string' },
        range: { type: 'string' },
        mean: { type: 'string' },
        std: { type: 'string' },
        labels: { type: 'string' },
        config: { type: 'string' },
        images: { type: 'string' },
        dataset: { type: 'string' },
        'class-map': { type: 'string' },
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
        'no-metrics': { type: 'boolean', default: false },
        split: { type: 'string' },
        batch: { type: 'string' },
        workers: { type: 'string' },
        queue: { type: 'string' },
        'queue-name': { type: 'string' },
        'lock-ms': { type: 'string' },
        'encoder-layers': { type: 'string' },
        channels: { type: 'string' },
        upsampler: { type: 'string' },
        'finest-block': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    // node:util's errors for unknown flags and missing values: a usage error like any other.
    throw new SaliencyError('BAD_OPTION', `${(e as Error).message} (saliency --help lists the commands and flags).`);
  }
  const { values, positionals } = parsed;
  const [command, ...images] = positionals;
  if (values.help === true || command == null) {
    print(USAGE);
    return command == null && values.help !== true ? 2 : 0;
  }
  if (command !== 'explain' && command !== 'demo' && command !== 'classmodel' && command !== 'eval' && command !== 'train-masker' && command !== 'worker') {
    throw new SaliencyError('BAD_OPTION', `Unknown command '${command}'.\n${USAGE}`);
  }
  // Every argument is checked before the backend is chosen (and its banner printed).
  // (--backend is checked by initBackend, which throws before printing anything.)
  const modelSpec = modelSpecFromFlags(values); // model flags checked before the banner
  if (modelSpec.path != null && !existsSync(resolve(modelSpec.path))) {
    throw new SaliencyError('BAD_MODEL', `No model at ${resolve(modelSpec.path)}: give a folder holding model.json, or the model.json itself.`);
  }
  const seed = nonNegativeInt(values.seed, '--seed');
  const masks = nonNegativeInt(values.masks, '--masks');
  const defaultOut = command === 'eval' ? 'report' : command === 'train-masker' ? 'masker' : 'out';
  const outDir = resolve(values.out ?? defaultOut);
  let methods: string[] = [];
  let target: number | 'top' = 'top';
  let box: Region | null = null;
  if (command === 'explain') {
    if (images.length === 0 && values.images == null && values.dataset == null) {
      throw new SaliencyError('BAD_OPTION', `explain needs image paths, --images <dir|glob> or --dataset <spec>.\n${USAGE}`);
    }
    methods = values.method ?? ['gradcam'];
    // Throws BAD_OPTION for an unknown method; 'masking' needs the model's trained masker, checked when it is loaded.
    for (const m of methods) if (m !== 'masking') methodByName(m, { seed, masks });
    target = parseTarget(values.target);
    box = values.box != null ? parseBox(values.box) : null;
  }
  const workers = nonNegativeInt(values.workers, '--workers');
  const lockMs = nonNegativeInt(values['lock-ms'], '--lock-ms');
  if (command !== 'worker') await ensureWritableDir(outDir);
  const backend = await initBackend({ prefer: values.backend as Backend | undefined });
  describeBackend(backend).forEach(print);

  if (command === 'train-masker') {
    const { runTrainMaskerCommand } = await loadEvalPackage('saliency train-masker');
    return runTrainMaskerCommand({
      set: values.set, steps: nonNegativeInt(values.steps, '--steps'), batch: nonNegativeInt(values.batch, '--batch'),
      seed, lr: values.lr == null ? undefined : Number(values.lr), out: values.out ?? 'masker',
      encoderLayers: values['encoder-layers'], channels: values.channels, upsampler: values.upsampler, finestBlock: values['finest-block'],
    }, print);
  }

  if (command === 'eval') {
    const { runEvalCommand } = await loadEvalPackage('saliency eval');
    return withDrain((signal) => runEvalCommand({
      set: values.set, methods: values.methods, sess: values.sess, 'no-sess': values['no-sess'], 'no-metrics': values['no-metrics'], split: values.split,
      masks, out: values.out ?? 'report',
      dataset: values.dataset ?? values.images, classMap: values['class-map'], target: values.target != null ? parseTarget(values.target) : undefined,
      model: values.dataset != null || values.images != null ? modelSpecFromFlags(values) : undefined,
      environment: `backend ${backend.name} (via ${backend.via}), tfjs ${tf.version_core}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), node ${process.version}`,
      workers: workers ?? availableParallelism(), queue: values.queue, queueName: values['queue-name'],
      backend: values.backend,
    }, print, signal));
  }

  if (command === 'worker') {
    const { runWorkerCommand } = await loadEvalPackage('saliency worker');
    return withDrain((signal) => runWorkerCommand({
      queue: values.queue, queueName: values['queue-name'], lockMs,
    }, print, signal));
  }

  if (command === 'classmodel') {
    const model = await loadModel(values);
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
      const steps = nonNegativeInt(values.steps, '--steps');
      const t0 = performance.now();
      const image = await classModel(model.classifier, c, {
        steps, lr: num(values.lr, '--lr'), lambda: num(values.lambda, '--lambda'),
        onProgress: (p) => { if (p.done === p.total) print(`  ${p.done}/${p.total} steps`); },
      });
      const file = join(outDir, `${modelName(model)}.${names[c] ?? c}.classmodel.png`);
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
    const { hasBundledMasker, loadBundledMasker, loadFaceExpressionClassifier, sampleFaces } = await loadModelsPackage('saliency demo');
    const model = await loadFaceExpressionClassifier();
    const masker = hasBundledMasker('face') ? await loadBundledMasker('face', model.classifier).catch((e: unknown) => { model.dispose(); throw e; }) : undefined;
    const first = masker != null ? [...DEMO_METHODS, 'masking'] : DEMO_METHODS;
    try {
      // Every method on the first face of each photo; the two fast ones on every face.
      for (const sample of sampleFaces()) {
        for (const [i, face] of sample.faces.entries()) {
          for (const method of i === 0 ? first : (['gradient', 'gradcam'] as const)) {
            const s = await explainFile(model.classifier, sample.path, {
              method, layer: camLayer(method, undefined, model), outDir, region: face.box, target: 'top', label: `face${i + 1}`, seed: 0, masker,
            });
            print(`${sample.path.split('/').pop()} face ${i + 1} ${s.method}: ${s.target.name} ${fmt(s.target.probability)} → ${s.files.overlay} (${s.ms} ms)`);
          }
        }
      }
    } finally {
      masker?.dispose();
      model.dispose();
    }
    print(`tensors still allocated: ${tf.memory().numTensors}`);
    return 0;
  }

  const model = await loadModel(values);
  try {
    const inputs = await explainInputs({
      images, imagesGlob: values.images, dataset: values.dataset, classMap: values['class-map'], split: values.split,
      target, box, faces: model.spec.preset === 'face', labels: model.labels,
    }, print);
    return await withDrain((signal) => runExplainCommand(inputs, {
      loaded: model, model: modelSpec, backend: backend.name, methods, layer: values.layer, sess: values.sess === true,
      seed, masks, outDir, workers: workers ?? availableParallelism(), signal,
    }, print, printError));
  } finally {
    model.dispose();
  }
}
