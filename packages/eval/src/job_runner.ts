import { SaliencyError, type MaskingModel } from '@saliency/core';
import { CAM_METHOD_NAMES, loadClassifier, methodByName, readImage } from '@saliency/node';
import { BUNDLED_MASKERS, hasBundledMasker, loadBundledMasker, loadFaceExpressionClassifier, loadGeneratedClassifier, loadMobileNetV2Classifier, type BundledClassifier, type BundledMaskerModel } from '@saliency/models';
import type { EvalItem, EvalSet, EvalSetName } from './eval_set.js';
import { evaluateItem, evaluateTruthBox, itemTensor, topClass } from './evaluate_item.js';
import { facesEvalSet } from './faces_set.js';
import { generatedEvalSet } from './generated_eval_set.js';
import { photosEvalSet } from './photos_set.js';
import type { EvalJob, JobModel } from './job.js';
import type { EvalRecord } from './records.js';
import { join } from 'node:path';

/** Loads a bundled evaluation set of `count` images (deterministic: every process gets the same pixels). */
export async function loadEvalSet(name: EvalSetName, count: number): Promise<EvalSet> {
  if (name === 'generated') return generatedEvalSet(count);
  if (name === 'faces') return facesEvalSet(count);
  if (name === 'photos') return photosEvalSet(count);
  throw new SaliencyError('BAD_OPTION', `Unknown evaluation set '${String(name)}'.`);
}

async function loadModel(m: JobModel): Promise<BundledClassifier> {
  if (m.preset === 'custom') {
    if (m.spec == null) throw new SaliencyError('BAD_OPTION', 'A job on a custom model needs the model\'s spec (loadClassifier) to load it in this process.');
    const l = await loadClassifier(m.spec);
    return { classifier: l.classifier, camLayer: l.camLayer ?? 'auto', dispose: () => l.dispose() };
  }
  if (m.preset === 'digits') return loadGeneratedClassifier();
  if (m.preset === 'face') return loadFaceExpressionClassifier();
  if (m.preset === 'mobilenet') return loadMobileNetV2Classifier();
  throw new SaliencyError('BAD_OPTION', `Unknown model preset '${String(m.preset)}'.`);
}

/**
 * Computes the records of {@link EvalJob}s in this process, keeping the models, masking models
 * and bundled sets it loaded for the next job. The same code runs in-process, in a local worker
 * process and in a queue worker, so a job's record does not depend on where it ran (timings aside).
 */
export class JobRunner {
  private readonly models = new Map<string, Promise<BundledClassifier>>();
  private readonly maskers = new Map<string, Promise<MaskingModel>>();
  private readonly sets = new Map<string, Promise<EvalSet>>();

  /**
   * @param own - a classifier the caller owns, used for every job on the custom model (an in-process
   *   evaluation of a dataset whose classifier the caller already loaded); never disposed here.
   */
  constructor(private readonly own?: BundledClassifier) {}

  private model(m: JobModel): Promise<BundledClassifier> {
    // A custom model the caller already loaded is used as it is (never loaded a second time from its spec).
    if (m.preset === 'custom' && this.own != null) return Promise.resolve(this.own);
    if (m.preset === 'custom' && m.spec == null) {
      return Promise.reject(new SaliencyError('BAD_OPTION', 'A job on a custom model without a spec needs the classifier given to the runner.'));
    }
    const k = JSON.stringify(m);
    let p = this.models.get(k);
    if (p == null) {
      p = loadModel(m);
      this.models.set(k, p);
      p.catch(() => this.models.delete(k));
    }
    return p;
  }

  private async masker(m: JobModel): Promise<MaskingModel> {
    const preset = m.preset;
    if (preset == null || !hasBundledMasker(preset)) {
      throw new SaliencyError('BAD_OPTION', `The masking method needs a trained masking model; they ship for ${Object.keys(BUNDLED_MASKERS).join(' and ')} only.`);
    }
    const k = JSON.stringify(m);
    let p = this.maskers.get(k);
    if (p == null) {
      p = this.model(m).then((b) => loadBundledMasker(preset as BundledMaskerModel, b.classifier));
      this.maskers.set(k, p);
      p.catch(() => this.maskers.delete(k));
    }
    return p;
  }

  private async item(job: EvalJob): Promise<EvalItem> {
    const meta = { id: job.item.id, target: job.item.target, boxes: job.item.boxes, difficult: job.item.difficult, tolerance: job.item.tolerance };
    if (job.image.kind === 'file') return { ...meta, image: await readImage(job.image.path) };
    const { set, count, index } = job.image;
    const k = `${set}/${count}`;
    let p = this.sets.get(k);
    if (p == null) {
      p = loadEvalSet(set, count);
      this.sets.set(k, p);
      p.catch(() => this.sets.delete(k));
    }
    const item = (await p).items[index];
    if (item?.id !== job.item.id) {
      throw new SaliencyError('BAD_OPTION', `Item ${index} of the ${set} set (${count} images) is '${item?.id ?? 'missing'}', not '${job.item.id}': the set differs between processes.`);
    }
    return { ...meta, image: item.image };
  }

  /** Computes one job's record (and writes its overlay PNG when the job asks for one). Leaves no tensors. */
  async run(job: EvalJob): Promise<EvalRecord> {
    const model = await this.model(job.model);
    const item = await this.item(job);
    const s = job.settings;
    const masker = s.method === 'masking' ? await this.masker(job.model) : undefined;
    const image = itemTensor(item);
    try {
      const target = typeof item.target === 'number' ? item.target : await topClass(model.classifier, image);
      const r = s.method === 'gt-box'
        ? await evaluateTruthBox(job.set, item, image, target, model.classifier)
        : await evaluateItem(job.set, item, image, target, model.classifier, methodByName(s.method, {
          layer: s.layer ?? (CAM_METHOD_NAMES.includes(s.method) ? model.camLayer : undefined), seed: s.seed, masks: s.masks, sess: s.sess, sessOptions: s.sessOptions, masker,
        }), job.variant, {
          batchSize: s.batchSize, metrics: s.metrics !== false,
          overlay: job.overlay == null ? null : { file: join(job.out, job.overlay), relative: job.overlay },
        });
      return { ...r, key: job.key };
    } finally {
      image.dispose();
    }
  }

  /** Frees every model this runner loaded. */
  async dispose(): Promise<void> {
    for (const p of this.maskers.values()) (await p.catch(() => null))?.dispose();
    for (const p of this.models.values()) (await p.catch(() => null))?.dispose();
    this.maskers.clear();
    this.models.clear();
    this.sets.clear();
  }
}

/** A record saying that a job failed for good, with its error (counted in no metric). */
export function failedRecord(job: EvalJob, error: string): EvalRecord {
  return {
    key: job.key, set: job.set.name, variant: job.variant, itemId: job.item.id,
    target: typeof job.item.target === 'number' ? job.item.target : -1, difficult: job.item.difficult,
    ms: null, hit: null, iou: null, saliencyMetric: null, insertion: null, deletion: null, curves: null, overlay: null,
    error,
  };
}
