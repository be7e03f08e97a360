import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

const root = join(__dirname, '..', '..');

function run(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
}

describe('the built packages', () => {
  it('facade works from ESM: one instance of every primitive; the methods bundled into the facade (no import of @saliency/methods or @saliency/sess)', () => {
    const out = run(['--input-type=module', '-e', `
      import * as core from '@saliency/core';
      import * as base from '@saliency/core/base';
      import * as methods from '@saliency/methods';
      console.log(JSON.stringify({
        fns: ['gradCam', 'vanillaGradient', 'explain', 'fromLayersModel', 'fromGraphModel', 'fromFunction'].map((k) => typeof core[k]),
        sameError: core.SaliencyError === base.SaliencyError, sameExplain: core.explain === base.explain,
        // @saliency/methods depends on @saliency/core, so the facade carries its own copy of the methods.
        methodCopy: core.gradCam !== methods.gradCam && core.gradCam.name === methods.gradCam.name,
      }));`]);
    expect(JSON.parse(out)).toEqual({ fns: Array(6).fill('function'), sameError: true, sameExplain: true, methodCopy: true });
    for (const file of ['index.js', 'index.cjs', 'base.js', 'base.cjs']) {
      const code = readFileSync(join(root, 'packages', 'core', 'dist', file), 'utf8');
      expect(code, file).not.toMatch(/(from |require\()['"]@saliency\/(methods|sess)['"]/);
    }
  });

  it('facade works from CJS', () => {
    const out = run(['-e', `
      const core = require('@saliency/core'); const base = require('@saliency/core/base'); const node = require('@saliency/node');
      console.log(JSON.stringify({
        fns: [core.gradCam, core.vanillaGradient, core.explain, node.initBackend, node.readImage].map((f) => typeof f),
        sameError: core.SaliencyError === base.SaliencyError,
      }));`]);
    expect(JSON.parse(out)).toEqual({ fns: Array(5).fill('function'), sameError: true });
  });

  it("the README's ten lines are examples/node-basic/index.mjs, verbatim (tests/examples runs that file)", () => {
    const example = readFileSync(join(root, 'examples', 'node-basic', 'index.mjs'), 'utf8').split('\n').slice(1).join('\n').trim();
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain(example);
  });

  it('@saliency/metrics loads from both builds, and its ESM build leaves OpenCV unloaded until graphCutBox is called', () => {
    const esm = run(['--input-type=module', '-e', `
      const m = await import('@saliency/metrics');
      console.log(JSON.stringify({ fns: [m.insertionDeletion, m.pointingGame, m.graphCutBox].map((f) => typeof f), handlers: process.listenerCount('unhandledRejection') }));`]);
    expect(JSON.parse(esm)).toEqual({ fns: Array(3).fill('function'), handlers: 0 });
    const cjs = run(['-e', "const m = require('@saliency/metrics'); console.log(typeof m.saliencyMetric)"]);
    expect(cjs.trim()).toBe('function');
  });
});
