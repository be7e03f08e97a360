import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const src = (p: string) => fileURLToPath(new URL(`./packages/${p}`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@saliency\/core\/base$/, replacement: src('core/src/base.ts') },
      { find: /^@saliency\/core$/, replacement: src('core/src/index.ts') },
      { find: /^@saliency\/methods$/, replacement: src('methods/src/index.ts') },
      { find: /^@saliency\/node$/, replacement: src('node/src/index.ts') },
      { find: /^@saliency\/sess$/, replacement: src('sess/src/index.ts') },
      { find: /^@saliency\/metrics$/, replacement: src('metrics/src/index.ts') },
      { find: /^@saliency\/web$/, replacement: src('web/src/index.ts') },
      { find: /^@saliency\/models\/browser$/, replacement: src('models/src/browser.ts') },
      { find: /^@saliency\/models$/, replacement: src('models/src/index.ts') },
      { find: /^@saliency\/eval$/, replacement: src('eval/src/index.ts') },
    ],
  },
  test: {
    include: ['tests/**/*.test.ts'],
    // Unpacks @sparticuz/chromium once before the workers start (when /usr/bin/chromium is absent).
    globalSetup: ['tests/web/chromium_setup.ts'],
    // The JSON report is what .ci/run turns into its closing 'N passed, N failed' line.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
    testTimeout: 240_000,
    hookTimeout: 240_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    minWorkers: 1,
  },
});
