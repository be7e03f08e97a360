// Builds the harness page for tests/web (see browser.ts → buildHarness).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const src = (p: string): string => join(here, '..', '..', '..', 'packages', p);

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
  build: { outDir: join(here, 'dist'), emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 8192, reportCompressedSize: false },
});
