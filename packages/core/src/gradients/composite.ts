import * as tf from '@tensorflow/tfjs-core';

/**
 * Building blocks for kernels made of other kernels of the same backend
 * (`Composite`), shared by the kernel bridge (`kernel_bridge.ts`) and the faster
 * wasm backward kernels (`wasm_backward_kernels.ts`). Internal to
 * `@saliency/core`: not exported from its entry points.
 * @packageDocumentation
 */

/** A backend-level tensor (what kernels take and return). Internal. */
export type Info = tf.TensorInfo;
/** Kernel attributes. Internal. */
export type Attrs = tf.NamedAttrMap;
/** Values as a backend reads and writes them. Internal. */
export type Values = ReturnType<tf.KernelBackend['readSync']>;
/** A tensor dtype. Internal. */
export type DataType = Info['dtype'];
/** Kernel inputs (by name, or a list). Internal. */
export type InputMap = Record<string, Info | null | undefined> | Array<Info | null | undefined>;

/** The backend methods the bridge uses (every tfjs KernelBackend has them; `makeTensorInfo` is optional). Internal. */
export interface BackendIO {
  readSync(dataId: object): Values;
  write(values: Values | null, shape: number[], dtype: DataType): object;
  disposeData(dataId: object, force?: boolean): boolean;
  makeTensorInfo?(shape: number[], dtype: DataType, values?: Values): Info;
}

/** What tfjs passes to a kernel function. Internal. */
export interface KernelArgs {
  inputs: InputMap;
  attrs?: Attrs;
  backend: unknown;
}
/** A kernel function as registered with `tf.registerKernel`, loosely typed. Internal. */
export type AnyKernelFunc = (args: KernelArgs) => Info | Info[];

/** `backend` seen through {@link BackendIO}. Internal. */
export function io(backend: unknown): BackendIO {
  return backend as BackendIO;
}

/** A tensor on `backend` holding a copy of `values`. Internal. */
export function makeInfo(backend: BackendIO, shape: number[], dtype: DataType, values: Values): Info {
  if (typeof backend.makeTensorInfo === 'function') return backend.makeTensorInfo(shape, dtype, values);
  return { dataId: backend.write(values, shape, dtype), shape, dtype };
}

/** The kernel function registered for `name` on `backendName` (throws if none). Internal. */
export function kernelFuncOf(name: string, backendName: string): AnyKernelFunc {
  const config = tf.getKernel(name, backendName);
  if (config == null) throw new Error(`@saliency: kernel '${name}' is not registered for backend '${backendName}'`);
  return config.kernelFunc as unknown as AnyKernelFunc;
}

/** The first output of a kernel. Internal. */
export function firstOutput(out: Info | Info[]): Info {
  return Array.isArray(out) ? out[0] : out;
}

/**
 * Runs kernels of one backend on that backend's own data, disposing every
 * intermediate result when the composite ends (the returned one excepted).
 * Internal to `@saliency/core`'s gradient kernels.
 */
export class Composite {
  private readonly temps: Info[] = [];

  /**
   * @param backendName - the backend whose kernels run.
   * @param backend - that backend's instance, as passed to the kernel.
   */
  constructor(private readonly backendName: string, readonly backend: unknown) {}

  /** Runs kernel `name`; the output is freed by {@link Composite.dispose} unless it is returned. */
  run(name: string, inputs: Record<string, Info>, attrs: Attrs = {}): Info {
    const out = firstOutput(kernelFuncOf(name, this.backendName)({ inputs, attrs, backend: this.backend }));
    this.temps.push(out);
    return out;
  }

  /** Reshape (no copy when the shape is unchanged). */
  reshape(x: Info, shape: number[]): Info {
    if (x.shape.length === shape.length && x.shape.every((d, i) => d === shape[i])) return x;
    return this.run('Reshape', { x }, { shape });
  }

  /** Transpose. */
  transpose(x: Info, perm: number[]): Info {
    return this.run('Transpose', { x }, { perm });
  }

  /** Gives up ownership of `t` (made by {@link Composite.run}): it is not freed when the composite ends. */
  release(t: Info): Info {
    const i = this.temps.lastIndexOf(t);
    if (i >= 0) this.temps.splice(i, 1);
    return t;
  }

  /** Takes ownership of `t` (a tensor made on this backend): it is freed with the other temporaries. */
  adopt(t: Info): Info {
    this.temps.push(t);
    return t;
  }

  /** A new tensor from JS values (freed with the other temporaries). */
  constant(values: Values, shape: number[], dtype: DataType): Info {
    const t = makeInfo(io(this.backend), shape, dtype, values);
    this.temps.push(t);
    return t;
  }

  /**
   * Pads (positive amounts) or crops (negative amounts) axes 1 and 2 of an
   * NHWC tensor. Returns null when cropping leaves nothing.
   */
  padOrCrop(x: Info, top: number, bottom: number, left: number, right: number): Info | null {
    let y = x;
    const cropT = Math.max(0, -top), cropB = Math.max(0, -bottom);
    const cropL = Math.max(0, -left), cropR = Math.max(0, -right);
    if (cropT + cropB + cropL + cropR > 0) {
      const h = y.shape[1] - cropT - cropB, w = y.shape[2] - cropL - cropR;
      if (h <= 0 || w <= 0) return null;
      y = this.run('Slice', { x: y }, { begin: [0, cropT, cropL, 0], size: [y.shape[0], h, w, y.shape[3]] });
    }
    const padT = Math.max(0, top), padB = Math.max(0, bottom), padL = Math.max(0, left), padR = Math.max(0, right);
    if (padT + padB + padL + padR > 0) {
      y = this.run('PadV2', { x: y }, { paddings: [[0, 0], [padT, padB], [padL, padR], [0, 0]], constantValue: 0 });
    }
    return y;
  }

  /** Marks `result` as the composite's output and frees every other temporary. */
  finish(result: Info): Info {
    // `result` may share its data with temporaries (a reshape of one): the
    // backend reference-counts data ids, so dropping each temporary's own
    // reference once is right; only `result`'s own reference is kept.
    const i = this.temps.lastIndexOf(result);
    if (i >= 0) this.temps.splice(i, 1);
    this.dispose();
    return result;
  }

  /** Frees every temporary. */
  dispose(): void {
    const b = io(this.backend);
    for (const t of this.temps) b.disposeData(t.dataId);
    this.temps.length = 0;
  }
}

/** A float32 tensor of zeros on `backend`. Internal. */
export function zeros(backend: unknown, shape: number[]): Info {
  const size = shape.reduce((a, b) => a * b, 1);
  return makeInfo(io(backend), shape, 'float32', new Float32Array(size));
}

/** Thrown inside a composite when it does not cover the attributes; the kernel then uses the fallback. */
export class NotCovered extends Error {}

/** True when two shapes are equal. Internal. */
export function same(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** tfjs's conv geometry (`backend_util.computeConv2DInfo`). Internal. */
export type ConvInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/**
 * The conv geometry of a kernel's attributes (NHWC, rank-4 only: anything else
 * throws {@link NotCovered}). Internal.
 */
export function convInfoOf(
  xShape: number[], filterShape: number[], attrs: Attrs, depthwise: boolean,
): ConvInfo {
  const a = attrs as Record<string, unknown>;
  const dataFormat = a.dataFormat == null ? 'channelsLast'
    : tf.backend_util.convertConv2DDataFormat(a.dataFormat as 'NHWC' | 'NCHW');
  if (dataFormat !== 'channelsLast') throw new NotCovered('NCHW');
  if (xShape.length !== 4 || filterShape.length !== 4) throw new NotCovered('rank');
  const dilations = (a.dilations ?? 1) as number | [number, number];
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides as number | [number, number],
    dilations,
    a.pad as 'valid' | 'same' | number,
    a.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    depthwise,
    dataFormat,
  );
}
