/*
 * Adam with L2 weight decay added to the gradient (PyTorch's `torch.optim.Adam(…,
 * weight_decay)`, which the reference trainer uses), with state that can be saved
 * in a checkpoint and restored. Internal to @saliency/methods.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Hyper-parameters of {@link Adam}. */
export interface AdamSettings {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
}

/** Adam over a fixed list of variables. */
export class Adam {
  /** Steps applied so far. */
  t = 0;
  private m: tf.Tensor[];
  private v: tf.Tensor[];

  constructor(private readonly vars: readonly tf.Variable[], private readonly s: AdamSettings) {
    this.m = vars.map((x) => tf.zerosLike(x));
    this.v = vars.map((x) => tf.zerosLike(x));
  }

  /** Applies one step with `grads[i]` the gradient of `vars[i]` (the gradients are not disposed). */
  apply(grads: readonly tf.Tensor[]): void {
    this.t += 1;
    const { learningRate: lr, beta1: b1, beta2: b2, epsilon: eps, weightDecay: wd } = this.s;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    const next = tf.tidy(() => this.vars.map((x, i) => {
      const g = wd > 0 ? tf.add(grads[i], tf.mul(x, wd)) : grads[i];
      const m = tf.add(tf.mul(this.m[i], b1), tf.mul(g, 1 - b1));
      const v = tf.add(tf.mul(this.v[i], b2), tf.mul(tf.square(g), 1 - b2));
      const step = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
      x.assign(tf.sub(x, tf.mul(step, lr)));
      return { m, v };
    }));
    tf.dispose([...this.m, ...this.v]);
    this.m = next.map((e) => e.m);
    this.v = next.map((e) => e.v);
  }

  /** The state as named tensors (`adam/m/<i>`, `adam/v/<i>`), views the caller must not dispose. */
  state(): { name: string; tensor: tf.Tensor }[] {
    return [
      ...this.m.map((tensor, i) => ({ name: `adam/m/${i}`, tensor })),
      ...this.v.map((tensor, i) => ({ name: `adam/v/${i}`, tensor })),
    ];
  }

  /** Restores the state from {@link state}'s names (copies them) and the step count. */
  restore(values: ReadonlyMap<string, tf.Tensor>, t: number): boolean {
    const m = this.vars.map((_, i) => values.get(`adam/m/${i}`));
    const v = this.vars.map((_, i) => values.get(`adam/v/${i}`));
    const fits = (list: (tf.Tensor | undefined)[]): list is tf.Tensor[] =>
      list.every((e, i) => e != null && tf.util.arraysEqual(e.shape, this.vars[i].shape));
    if (!fits(m) || !fits(v)) return false;
    tf.dispose([...this.m, ...this.v]);
    this.m = m.map((e) => tf.clone(e));
    this.v = v.map((e) => tf.clone(e));
    this.t = t;
    return true;
  }

  /** Frees the state. */
  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
    this.m = [];
    this.v = [];
  }
}
