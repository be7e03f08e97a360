/*
 * The demo page: drop an image, pick a model, a method and SESS, see the
 * overlay, the top classes, progress, and the backend in use.
 * `window.saliencyDemo` exposes the page's state to tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import { explain, SaliencyError, type ColormapName, type Progress } from '@saliency/core/base';
import {
  drawOverlay, initBackend, loadClassifier, readMap, readPixels, toPngBlob, type BackendChoice, type SaliencyMapData,
} from '@saliency/web';
import { loadFaceModel, type PageModel } from './face_model';
import { METHODS } from './methods';
import { SESS } from './sess_hook';
import { classScores, type ClassScore } from './top_classes';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const ui = {
  backend: $<HTMLParagraphElement>('backend'),
  drop: $<HTMLLabelElement>('drop'),
  file: $<HTMLInputElement>('file'),
  sample: $<HTMLButtonElement>('sample'),
  model: $<HTMLSelectElement>('model'),
  custom: $<HTMLDivElement>('custom'),
  modelUrl: $<HTMLInputElement>('model-url'),
  modelRange: $<HTMLSelectElement>('model-range'),
  modelLoad: $<HTMLButtonElement>('model-load'),
  method: $<HTMLSelectElement>('method'),
  sess: $<HTMLInputElement>('sess'),
  sessScales: $<HTMLInputElement>('sess-scales'),
  target: $<HTMLSelectElement>('target'),
  colormap: $<HTMLSelectElement>('colormap'),
  opacity: $<HTMLInputElement>('opacity'),
  run: $<HTMLButtonElement>('run'),
  cancel: $<HTMLButtonElement>('cancel'),
  progress: $<HTMLProgressElement>('progress'),
  status: $<HTMLParagraphElement>('status'),
  overlay: $<HTMLCanvasElement>('overlay'),
  download: $<HTMLAnchorElement>('download'),
  topClasses: $<HTMLOListElement>('top-classes'),
};

/** Largest side an image is shown and explained at (bigger photos are scaled down once, on load). */
const MAX_SIDE = 1024;

type Phase = 'starting' | 'idle' | 'running' | 'done' | 'cancelled' | 'error';

const state = {
  phase: 'starting' as Phase,
  backend: null as BackendChoice | null,
  model: null as PageModel | null,
  image: null as ImageData | null,
  map: null as SaliencyMapData | null,
  scores: [] as ClassScore[],
  controller: null as AbortController | null,
  error: '',
  runs: 0,
};

function setStatus(text: string, phase?: Phase): void {
  ui.status.textContent = text;
  if (phase != null) state.phase = phase;
  const busy = state.phase === 'running' || state.phase === 'starting';
  ui.run.disabled = busy || state.model == null || state.image == null;
  ui.cancel.disabled = state.phase !== 'running';
}

function messageOf(e: unknown): string {
  if (e instanceof SaliencyError) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

function showBackend(b: BackendChoice): void {
  const skipped = b.skipped.map((s) => `${s.backend} skipped: ${s.reason}`).join('; ');
  ui.backend.textContent = `Backend: ${b.name}${b.adapter != null ? ` (${b.adapter})` : ''}${skipped !== '' ? ` — ${skipped}` : ''}`;
  ui.backend.dataset.backend = b.name;
}

function showScores(): void {
  ui.topClasses.replaceChildren(...state.scores.slice(0, 3).map((s) => {
    const li = document.createElement('li');
    li.textContent = `${s.name} ${(100 * s.probability).toFixed(1)} %`;
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = `${Math.round(120 * s.probability)}px`;
    li.append(bar);
    return li;
  }));
  const names = state.model?.classifier.classNames;
  const n = state.model?.classifier.numClasses ?? 0;
  const keep = ui.target.value;
  ui.target.replaceChildren(new Option('top class', 'top'),
    ...Array.from({ length: n }, (_, i) => new Option(names?.[i] ?? `class ${i}`, String(i))));
  ui.target.value = keep !== '' && Number(keep) < n ? keep : 'top';
}

async function redraw(): Promise<void> {
  if (state.image == null) return;
  if (state.map == null) {
    ui.overlay.width = state.image.width;
    ui.overlay.height = state.image.height;
    ui.overlay.getContext('2d')?.putImageData(state.image, 0, 0);
    return;
  }
  await drawOverlay(ui.overlay, state.image, state.map, {
    colormap: ui.colormap.value as ColormapName,
    opacity: Number(ui.opacity.value),
  });
  ui.download.hidden = false;
}

async function scaled(source: Blob): Promise<ImageData> {
  const pixels = await readPixels(source);
  const k = MAX_SIDE / Math.max(pixels.width, pixels.height);
  if (k >= 1) return pixels;
  const bitmap = await createImageBitmap(pixels, {
    resizeWidth: Math.round(pixels.width * k), resizeHeight: Math.round(pixels.height * k), resizeQuality: 'high',
  });
  try {
    return await readPixels(bitmap);
  } finally {
    bitmap.close();
  }
}

async function updateScores(): Promise<void> {
  if (state.model == null || state.image == null) return;
  state.scores = await classScores(state.model.classifier, state.image);
  showScores();
}

async function setImage(source: Blob): Promise<void> {
  try {
    state.image = await scaled(source);
    state.map = null;
    ui.download.hidden = true;
    await redraw();
    await updateScores();
    setStatus(`Image ${state.image.width}×${state.image.height}. Pick a method and press Explain.`, 'idle');
  } catch (e) {
    state.error = messageOf(e);
    setStatus(`Could not read the image: ${state.error}`, 'error');
  }
}

async function setModel(load: () => Promise<PageModel>): Promise<void> {
  setStatus('Loading the model…', 'starting');
  try {
    const next = await load();
    state.model?.dispose();
    state.model = next;
    await updateScores();
    setStatus(state.image == null ? 'Model ready. Drop an image.' : 'Model ready. Press Explain.', 'idle');
  } catch (e) {
    state.error = messageOf(e);
    setStatus(`Could not load the model: ${state.error}`, 'error');
  }
}

function onProgress(p: Progress): void {
  ui.progress.value = p.total > 0 ? p.done / p.total : 0;
  ui.status.textContent = `${p.phase}: ${p.done} / ${p.total}`;
}

async function run(): Promise<void> {
  const entry = METHODS.find((m) => m.id === ui.method.value);
  if (state.model == null || state.image == null || entry == null) return;
  const controller = new AbortController();
  state.controller = controller;
  ui.progress.value = 0;
  const useSess = ui.sess.checked && SESS != null;
  state.error = '';
  ui.download.hidden = true;
  setStatus(`Running ${entry.label}${useSess ? ' + SESS' : ''}…`, 'running');
  const started = performance.now();
  try {
    const progress = { onProgress, signal: controller.signal };
    const base = entry.create(useSess ? { signal: controller.signal } : progress);
    const scales = Math.min(12, Math.max(1, Math.round(Number(ui.sessScales.value) || 6)));
    const method = useSess && SESS != null ? SESS(base, progress, scales) : base;
    const target = ui.target.value === 'top' ? 'top' : Number(ui.target.value);
    const image = { data: state.image.data, width: state.image.width, height: state.image.height, channels: 4 };
    const map = await explain(method, state.model.classifier, image, { target });
    try {
      state.map = await readMap(map);
    } finally {
      map.dispose();
    }
    await redraw();
    ui.progress.value = 1;
    state.runs++;
    setStatus(`${entry.label}${useSess ? ' + SESS' : ''} done in ${((performance.now() - started) / 1000).toFixed(1)} s on ${tf.getBackend()}.`, 'done');
  } catch (e) {
    if (e instanceof SaliencyError && e.code === 'ABORTED') {
      setStatus('Cancelled.', 'cancelled');
    } else {
      state.error = messageOf(e);
      setStatus(`Failed: ${state.error}`, 'error');
    }
  } finally {
    state.controller = null;
  }
}

function wire(): void {
  for (const m of METHODS) ui.method.append(new Option(m.label + (m.long ? ' (slow)' : ''), m.id));
  ui.sess.disabled = SESS == null;
  ui.sessScales.disabled = SESS == null;
  if (SESS == null) ui.sess.parentElement?.setAttribute('title', 'SESS is not built into this page (@saliency/sess has no sources yet).');
  ui.file.addEventListener('change', () => { const f = ui.file.files?.[0]; if (f != null) void setImage(f); });
  ui.drop.addEventListener('dragover', (e) => { e.preventDefault(); ui.drop.classList.add('over'); });
  ui.drop.addEventListener('dragleave', () => ui.drop.classList.remove('over'));
  ui.drop.addEventListener('drop', (e) => {
    e.preventDefault();
    ui.drop.classList.remove('over');
    const f = e.dataTransfer?.files[0];
    if (f != null) void setImage(f);
  });
  ui.sample.addEventListener('click', () => void fetch('./samples/sample1.jpg').then((r) => r.blob()).then(setImage));
  ui.model.addEventListener('change', () => {
    ui.custom.hidden = ui.model.value !== 'url';
    if (ui.model.value === 'face') void setModel(() => loadFaceModel());
  });
  ui.modelLoad.addEventListener('click', () => {
    const [lo, hi] = ui.modelRange.value.split(',').map(Number) as [number, number];
    void setModel(async () => {
      const loaded = await loadClassifier(ui.modelUrl.value, { preprocess: { inputRange: [0, 255], modelRange: [lo, hi] } });
      return { classifier: loaded.classifier, dispose: loaded.dispose };
    });
  });
  ui.download.addEventListener('click', (e) => {
    // The PNG is encoded when asked for, not on every redraw.
    e.preventDefault();
    void toPngBlob(ui.overlay).then((png) => {
      const a = document.createElement('a');
      a.href = URL.createObjectURL(png);
      a.download = 'saliency.png';
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    });
  });
  ui.run.addEventListener('click', () => void run());
  ui.cancel.addEventListener('click', () => state.controller?.abort());
  ui.colormap.addEventListener('change', () => void redraw());
  ui.opacity.addEventListener('input', () => void redraw());
}

/** What tests read from the page. */
export interface DemoHandle {
  /** Resolves once the backend and the bundled model are ready. */
  ready: Promise<void>;
  /** `tf.memory().numTensors` now. */
  numTensors(): number;
  /** The page's phase, backend, last map and scores. */
  state(): {
    phase: Phase; backend: BackendChoice | null; runs: number; error: string;
    map: SaliencyMapData | null; scores: ClassScore[]; methods: string[]; sess: boolean;
  };
}

async function start(): Promise<void> {
  wire();
  try {
    state.backend = await initBackend({ wasmPaths: new URL('./tfjs-wasm/', document.baseURI).href });
    showBackend(state.backend);
  } catch (e) {
    ui.backend.textContent = `No backend: ${messageOf(e)}`;
    setStatus('No tfjs backend could be started.', 'error');
    return;
  }
  await setModel(() => loadFaceModel());
}

const ready = start();
(window as unknown as { saliencyDemo: DemoHandle }).saliencyDemo = {
  ready,
  numTensors: () => tf.memory().numTensors,
  state: () => ({
    phase: state.phase, backend: state.backend, runs: state.runs, error: state.error, map: state.map,
    scores: state.scores, methods: METHODS.map((m) => m.id), sess: SESS != null,
  }),
};
