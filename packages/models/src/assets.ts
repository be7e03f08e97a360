import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Absolute path of a file or folder in this package's `assets/`, found by walking up from this
 * module (so it works from `src/` under vitest and from `dist/` once built). Internal.
 */
export function findAsset(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'assets', name);
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new Error(`@saliency/models: asset ${name} not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}
