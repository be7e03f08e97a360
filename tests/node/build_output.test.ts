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
  it('facade works from ESM: one instance of every export, methods included', () => {
    const out = run(['--input-type=module', '-e', `
      import * as core from '@saliency/core';
      import * as base from '@saliency/core/base';
      import * as methods from '@saliency/methods';
      console.log(JSON.stringify({
        fns: ['gradCam', 'vanillaGradient', 'explain', 'fromLayersModel', 'fromGraphModel', 'fromFunction'].map((k) => typeof core[k]),
        sameError: core.SaliencyError === base.SaliencyError, sameMethod: core.gradCam === methods.gradCam,
      }));`]);
    expect(JSON.parse(out)).toEqual({ fns: Array(6).fill('function'), sameError: true, sameMethod: true });
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

  it('examples/node-basic.mjs runs as written and writes its overlay', async () => {
    const png = join(root, 'out', 'node-basic.png');
    rmSync(png, { force: true });
    run([join(root, 'examples', 'node-basic.mjs')]);
    expect(existsSync(png)).toBe(true);
    const meta = await sharp(png).metadata();
    expect(meta.width).toBe(meta.height);
    expect(meta.width).toBeGreaterThan(100);
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain(readFileSync(join(root, 'examples', 'node-basic.mjs'), 'utf8').split('\n').slice(1).join('\n').trim());
  });
});
