/**
 * Issue 16, item 5: the CLI survives a bad file. Every readable image is processed, each
 * failure is reported on its own line, and the exit status (1) comes at the end with a count;
 * a directory is called a directory; an unwritable --out is found before any work, with a
 * code; the backend banner is printed only once the arguments are checked; and every usage
 * error (unknown flag included) exits 2. Runs the built CLI (packages/node/dist/cli.js).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sampleFaces } from '@saliency/models';

const root = join(__dirname, '..', '..');
const cli = join(root, 'packages', 'node', 'dist', 'cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'saliency-cli-hardening-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8' });

describe('saliency CLI: bad files and usage errors', () => {
  const sample = sampleFaces()[0];
  const f = sample.faces[0].box;
  const box = ['--box', [f.x, f.y, f.width, f.height].map(Math.round).join(',')];

  it('processes every readable image, reports each failure on its own line, and exits 1 with a count', () => {
    const out = join(tmp, 'mixed');
    const bad = join(tmp, 'bad.png');
    writeFileSync(bad, 'not an image');
    const dir = join(tmp, 'a-folder');
    mkdirSync(dir);
    const r = run('explain', bad, sample.path, dir, join(tmp, 'missing.jpg'), ...box, '--method', 'gradcam', '--out', out);
    expect(r.status).toBe(1);
    // The good image in the middle was explained.
    expect(existsSync(join(out, 'sample1.gradcam.overlay.png'))).toBe(true);
    expect(r.stdout).toMatch(/gradcam @ \S+ for \w+: peak at/);
    const lines = r.stderr.trim().split('\n');
    expect(lines.filter((l) => l.includes(bad))).toHaveLength(1);
    expect(lines.find((l) => l.includes(bad))).toMatch(/\[BAD_OPTION\] Cannot read image/);
    expect(lines.find((l) => l.includes(dir))).toMatch(/is a directory/);
    expect(lines.find((l) => l.includes('missing.jpg'))).toMatch(/does not exist|no such file/i);
    expect(lines[lines.length - 1]).toMatch(/3 of 4 images failed/);
  });

  it('checks --out before any work: a coded error, exit 2, no banner, no maps', () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    const r = run('explain', sample.path, ...box, '--out', join(file, 'sub'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/\[BAD_OPTION\] --out/);
    expect(r.stdout).toBe(''); // no banner, no work
    expect(readdirSync(tmp).some((n) => n.startsWith('sample1.'))).toBe(false);
  });

  it('usage errors all exit 2 with BAD_OPTION before the backend banner: unknown flag, bad value, unknown method, no image', () => {
    for (const args of [
      ['explain', sample.path, '--nope'],
      ['explain', sample.path, '--box', '1,2,3'],
      ['explain', sample.path, '--method', 'nope'],
      ['explain', sample.path, '--model', 'resnet'],
      ['explain', sample.path, '--target', '-1'],
      ['explain'],
      ['frobnicate'],
    ]) {
      const r = run(...args, '--out', join(tmp, 'usage'));
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(/^saliency: \[(BAD_OPTION|BAD_TARGET|BAD_MODEL)\]/);
      expect(r.stdout, args.join(' ')).not.toMatch(/backend:/);
    }
  });
});
