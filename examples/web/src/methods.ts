/*
 * The methods the page offers, as data: every entry whose factory
 * `@saliency/methods` exports is listed; the others are left out, so the page
 * builds against whichever methods exist. Add a method by adding a line.
 */
import * as methods from '@saliency/methods';
import type { LongRunningOptions, SaliencyMethod } from '@saliency/core/base';

/** A method the page can run. */
export interface MethodEntry {
  /** Value of the `<option>` (also what tests select). */
  id: string;
  /** What the menu shows. */
  label: string;
  /** Long-running (many batches): the page shows its progress and lets it be cancelled. */
  long: boolean;
  /** A fresh method reporting to `run`'s progress callback and signal. */
  create(run: LongRunningOptions): SaliencyMethod;
}

type Factory = (opts: LongRunningOptions & Record<string, unknown>) => SaliencyMethod;

interface CatalogueLine {
  id: string;
  label: string;
  /** Export name in `@saliency/methods`. */
  factory: string;
  long: boolean;
  /** Options besides progress and signal. */
  options?: Record<string, unknown>;
}

const CATALOGUE: readonly CatalogueLine[] = [
  { id: 'gradcam', label: 'Grad-CAM', factory: 'gradCam', long: false },
  { id: 'gradient', label: 'Vanilla gradient', factory: 'vanillaGradient', long: false },
  { id: 'guided', label: 'Guided backprop', factory: 'guidedBackprop', long: false },
  { id: 'groupcam', label: 'Group-CAM', factory: 'groupCam', long: true },
  { id: 'scorecam', label: 'Score-CAM', factory: 'scoreCam', long: true },
  { id: 'rise', label: 'RISE (N = 1000)', factory: 'rise', long: true, options: { n: 1000, seed: 1 } },
  { id: 'gradcam++', label: 'Grad-CAM++', factory: 'gradCamPlusPlus', long: false },
  { id: 'xgradcam', label: 'XGrad-CAM', factory: 'xGradCam', long: false },
  { id: 'layercam', label: 'LayerCAM', factory: 'layerCam', long: false },
  { id: 'hirescam', label: 'HiResCAM', factory: 'hiResCam', long: false },
  { id: 'eigencam', label: 'Eigen-CAM', factory: 'eigenCam', long: false },
  { id: 'ablationcam', label: 'Ablation-CAM', factory: 'ablationCam', long: true },
  { id: 'guidedgradcam', label: 'Guided Grad-CAM', factory: 'guidedGradCam', long: false },
  { id: 'inputxgradient', label: 'Input × Gradient', factory: 'inputXGradient', long: false },
  { id: 'integratedgradients', label: 'Integrated Gradients (50 steps)', factory: 'integratedGradients', long: true },
  { id: 'occlusion', label: 'Occlusion', factory: 'occlusion', long: true },
];

const exported = methods as unknown as Record<string, unknown>;

/** The methods available in this build, in menu order. */
export const METHODS: readonly MethodEntry[] = CATALOGUE
  .filter((line) => typeof exported[line.factory] === 'function')
  .map((line) => ({
    id: line.id,
    label: line.label,
    long: line.long,
    create: (run: LongRunningOptions) => (exported[line.factory] as Factory)({ ...line.options, ...run }),
  }));
