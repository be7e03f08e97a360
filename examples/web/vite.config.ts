/*
 * The browser demo: `npm run build:web` (vite build --config examples/web/vite.config.ts)
 * writes a static site to examples/web/dist that works from any folder of any
 * static file server, offline: the face-expression weights, a sample photo and
 * the tfjs wasm files are copied from node_modules into it at build time.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const src = (p: string): string => join(repo, 'packages', p);
const require = createRequire(import.meta.url);

const faceApi = dirname(require.resolve('@vladmandic/face-api/package.json'));
const wasmDist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));

/** Files copied into the site: URL path → file on disk. */
const STATIC_FILES: Record<string, string> = {
  'models/face/face_expression_model-weights_manifest.json': join(faceApi, 'model', 'face_expression_model-weights_manifest.json'),
  'models/face/face_expression_model.bin': join(faceApi, 'model', 'face_expression_model.bin'),
  'samples/sample1.jpg': join(faceApi, 'demo', 'sample1.jpg'),
  'tfjs-wasm/tfjs-backend-wasm.wasm': join(wasmDist, 'dist', 'tfjs-backend-wasm.wasm'),
  'tfjs-wasm/tfjs-backend-wasm-simd.wasm': join(wasmDist, 'dist', 'tfjs-backend-wasm-simd.wasm'),
  'tfjs-wasm/tfjs-backend-wasm-threaded-simd.wasm': join(wasmDist, 'dist', 'tfjs-backend-wasm-threaded-simd.wasm'),
};

const TYPES: Record<string, string> = { json: 'application/json', bin: 'application/octet-stream', jpg: 'image/jpeg', wasm: 'application/wasm' };

/** Copies STATIC_FILES into the build, and serves them in `vite dev`. */
function staticFiles(): Plugin {
  return {
    name: 'saliency-demo-static-files',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = decodeURIComponent((req.url ?? '').split('?')[0] ?? '').replace(/^\//, '');
        const file = STATIC_FILES[path];
        if (file == null) return next();
        res.setHeader('content-type', TYPES[path.split('.').pop() ?? ''] ?? 'application/octet-stream');
        res.end(readFileSync(file));
      });
    },
    generateBundle() {
      for (const [fileName, file] of Object.entries(STATIC_FILES)) {
        this.emitFile({ type: 'asset', fileName, source: readFileSync(file) });
      }
    },
  };
}

/**
 * SESS hook: `virtual:saliency-sess` exports `sess` from `@saliency/sess`
 * when that package has sources, else `null` (the page then greys out the
 * SESS switch). So the demo builds with or without SESS.
 */
function sessHook(): Plugin {
  const id = 'virtual:saliency-sess';
  const resolved = `\0${id}`;
  return {
    name: 'saliency-demo-sess-hook',
    resolveId: (source) => (source === id ? resolved : null),
    load(loadId) {
      if (loadId !== resolved) return null;
      return existsSync(src('sess/src/index.ts'))
        ? "export { sess } from '@saliency/sess';"
        : 'export const sess = null;';
    },
  };
}

export default defineConfig({
  root: here,
  base: './',
  logLevel: 'warn',
  resolve: {
    alias: [
      { find: /^@saliency\/core\/base$/, replacement: src('core/src/base.ts') },
      { find: /^@saliency\/core$/, replacement: src('core/src/index.ts') },
      { find: /^@saliency\/methods$/, replacement: src('methods/src/index.ts') },
      { find: /^@saliency\/sess$/, replacement: src('sess/src/index.ts') },
      { find: /^@saliency\/web$/, replacement: src('web/src/index.ts') },
      { find: /^@saliency\/models\/browser$/, replacement: src('models/src/browser.ts') },
    ],
  },
  plugins: [staticFiles(), sessHook()],
  build: {
    outDir: join(here, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    reportCompressedSize: false,
  },
});
