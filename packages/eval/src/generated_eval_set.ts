import { generateLocalisationSet } from './datasets/generated_set.js';
import { scaledTolerance, type EvalSet } from './eval_set.js';

/** Seed of the generated evaluation images (the CNN was trained on other seeds and other digits). */
export const GENERATED_EVAL_SEED = 20261122;

/**
 * The `generated` set: test-split MNIST digits pasted onto 224×224 canvases with exact boxes,
 * several occurrences and distractors (see `generateLocalisationSet`), explained with the bundled
 * digit CNN for the labelled class.
 *
 * @param count - number of images.
 */
export function generatedEvalSet(count: number): EvalSet {
  const samples = generateLocalisationSet({ seed: GENERATED_EVAL_SEED, count, split: 'test', size: [224, 224] });
  const items = samples.map((s) => ({
    id: s.id,
    image: { data: s.pixels, width: s.width, height: s.height, channels: 3 as const },
    target: s.label,
    boxes: s.boxes.map((o) => o.box),
    difficult: s.difficult,
    tolerance: scaledTolerance(s.width, s.height),
  }));
  return {
    name: 'generated', model: 'digits', items, pointing: true, localisation: true,
    description: `${count} generated 224×224 scenes of held-out MNIST digits (seed ${GENERATED_EVAL_SEED}): 1–3 copies of the target digit, `
      + '0–2 distractor digits; the bundled digit CNN (96×96 input); difficult = every target box < 1/4 of the image or a distractor present',
  };
}
