import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_METHODS, initBackend, METHOD_NAMES, methodByName } from '@saliency/node';
import { sampleFaces } from '@saliency/models';

const root = join(__dirname, '..', '..');
const cli = join(root, 'packages', 'node', 'dist', 'cli.js');
const out = mkdtempSync(join(tmpdir(), 'saliency-cli-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('saliency CLI (built output, real model, real photo)', () => {
  it('the demo runs every method that needs no trained model (all but masking, which it adds with the bundled face masker), each one buildable as the demo builds it', async () => {
    await initBackend({ prefer: 'wasm', quiet: true });
    expect([...DEMO_METHODS, 'masking'].sort()).toEqual([...METHOD_NAMES].sort());
    for (const m of DEMO_METHODS) expect(methodByName(m, { seed: 0 }).explain).toBeTypeOf('function');
    expect(() => methodByName('masking')).toThrowError(expect.objectContaining({ code: 'BAD_OPTION', message: expect.stringContaining('train-masker') }));
  });

  it('explains every face of a sample photo with both methods and writes overlays, maps and summaries', async () => {
    const sample = sampleFaces()[0];
    const stdout = execFileSync(process.execPath, [cli, 'explain', sample.path, '--method', 'gradcam', '--method', 'gradient', '--out', out], { cwd: root, encoding: 'utf8' });
    expect(stdout).toMatch(/^backend: wasm \(via @tensorflow\/tfjs-backend-wasm\)/);
    expect(stdout).toMatch(/skipped tensorflow-gpu \(@tensorflow\/tfjs-node-gpu\): not installed/);
    expect(stdout).toMatch(/top: happy \d+\.\d%/);
    sample.faces.forEach((face, i) => {
      for (const method of ['gradcam', 'gradient']) {
        const stem = join(out, `sample1.face${i + 1}.${method}`);
        for (const ext of ['overlay.png', 'map.png', 'json']) expect(existsSync(`${stem}.${ext}`)).toBe(true);
        const summary = JSON.parse(readFileSync(`${stem}.json`, 'utf8'));
        // The CLI's probabilities are those face-api itself gives on the same square crop.
        const want = face.expressions.squareCrop;
        const top = want.indexOf(Math.max(...want));
        expect(summary.target.index).toBe(top);
        expect(summary.target.probability).toBeCloseTo(want[top], 4);
        expect(summary.method).toBe(method);
        const side = Math.round(Math.max(face.box.width, face.box.height));
        expect(summary.peak.x).toBeLessThan(side);
        expect(summary.peak.y).toBeLessThan(side);
      }
    });
    const meta = await sharp(join(out, 'sample1.face1.gradcam.overlay.png')).metadata();
    const side = Math.round(Math.max(sample.faces[0].box.width, sample.faces[0].box.height));
    expect([meta.width, meta.height, meta.channels]).toEqual([side, side, 3]);
    expect((await sharp(join(out, 'sample1.face1.gradcam.map.png')).metadata()).channels).toBe(1);
    const raw = await sharp(join(out, 'sample1.face1.gradcam.map.png')).raw().toBuffer({ resolveWithObject: true });
    expect(raw.data.reduce((a, v) => Math.max(a, v), 0)).toBe(255);
    expect(raw.data.reduce((a, v) => Math.min(a, v), 255)).toBe(0);
  });

  it('exits with code 2 and the error code for bad input (1 for an image that fails)', () => {
    const bad = spawnSync(process.execPath, [cli, 'explain', sampleFaces()[0].path, '--method', 'nope', '--out', out], { cwd: root, encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/\[BAD_OPTION\] Unknown method 'nope'/);
    const missing = spawnSync(process.execPath, [cli, 'explain', join(out, 'missing.jpg'), '--out', out], { cwd: root, encoding: 'utf8' });
    expect(missing.status).toBe(1); // an image that fails is reported, the others go on; 1 at the end
    expect(missing.stderr).toMatch(/Cannot read image/);
    expect(missing.stderr).toMatch(/1 of 1 image failed/);
    const box = spawnSync(process.execPath, [cli, 'explain', sampleFaces()[0].path, '--box', '1,2,3', '--out', out], { cwd: root, encoding: 'utf8' });
    expect(box.status).toBe(2);
    expect(box.stderr).toMatch(/--box must be x,y,width,height/);
    const help = spawnSync(process.execPath, [cli, '--help'], { cwd: root, encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/saliency explain <image\.\.\.>/);
  });

  it("explains with the bundled face masker (--method masking), the same maps in this process and in worker processes; mobilenet has none", async () => {
    const held = sampleFaces().find((s) => s.file === 'demo/sample6.jpg')!;
    const dirs = ['inproc', 'pool'].map((d) => join(out, `masking-${d}`));
    for (const [i, dir] of dirs.entries()) {
      const r = spawnSync(process.execPath, [cli, 'explain', held.path, '--method', 'masking', '--workers', i === 0 ? '0' : '2', '--out', dir], { cwd: root, encoding: 'utf8' });
      expect(r.stderr).not.toMatch(/saliency: .*\[/);
      expect(r.status).toBe(0);
    }
    for (let f = 1; f <= held.faces.length; f++) {
      const [a, b] = dirs.map((d) => readFileSync(join(d, `sample6.face${f}.masking.map.png`)));
      expect(a.equals(b)).toBe(true);
      const raw = await sharp(a).raw().toBuffer();
      expect(raw.reduce((m, v) => Math.max(m, v), 0)).toBeGreaterThan(raw.reduce((m, v) => Math.min(m, v), 255)); // not a constant map
    }
    const none = spawnSync(process.execPath, [cli, 'explain', held.path, '--model', 'mobilenet', '--method', 'masking', '--out', out], { cwd: root, encoding: 'utf8' });
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/\[BAD_OPTION\] Method 'masking' needs a trained masking model: they ship for --model digits and face/);
  });

  it('runs the other methods (with SESS) and writes a class-model image', async () => {
    const sample = sampleFaces()[0];
    const box = ['--box', [sample.faces[2].box.x, sample.faces[2].box.y, sample.faces[2].box.width, sample.faces[2].box.height].join(',')];
    const withSess = execFileSync(process.execPath, [cli, 'explain', sample.path, ...box, '--method', 'guided', '--sess', '--out', out], { cwd: root, encoding: 'utf8' });
    expect(withSess).toMatch(/sess\(guided\) for happy/);
    const plain = execFileSync(process.execPath, [cli, 'explain', sample.path, ...box, '--method', 'rise', '--masks', '64', '--seed', '1', '--method', 'scorecam', '--out', out], { cwd: root, encoding: 'utf8' });
    expect(plain).toMatch(/rise for happy/);
    for (const [file, name] of [['sess-guided', 'sess(guided)'], ['rise', 'rise'], ['scorecam', 'scorecam']]) {
      const summary = JSON.parse(readFileSync(join(out, `sample1.${file}.json`), 'utf8'));
      expect(summary.method).toBe(name);
      expect(summary.target.name).toBe('happy');
    }
    const cm = execFileSync(process.execPath, [cli, 'classmodel', '--class', 'happy', '--steps', '5', '--out', out], { cwd: root, encoding: 'utf8' });
    expect(cm).toMatch(/class model for happy: wrote/);
    const meta = await sharp(join(out, 'face.happy.classmodel.png')).metadata();
    expect([meta.width, meta.height, meta.channels]).toEqual([112, 112, 3]);
  });
});

