import { defineConfig, type Options } from 'tsup';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * One tsup configuration for every package. Each package runs
 * `tsup --config ../../tsup.config.ts` from its own folder; the entries come
 * from the `exports` map of that package's package.json, so the map and the
 * build cannot drift apart.
 */
const pkg = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, unknown>;
  bin?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
};

const entry: Record<string, string> = {};
for (const key of Object.keys(pkg.exports)) {
  if (!key.startsWith('.') || key.endsWith('.json')) continue;
  const name = key === '.' ? 'index' : key.slice(2);
  entry[name] = `src/${name}.ts`;
}
// A bin is a committed launcher (bin/*.js, linked by `npm ci` before anything is built) that
// imports one module of dist/: that module is an entry too.
for (const file of Object.values(pkg.bin ?? {})) {
  const launcher = readFileSync(join(process.cwd(), file), 'utf8');
  for (const m of launcher.matchAll(/\.\.\/dist\/([\w-]+)\.js/g)) entry[m[1]] = `src/${m[1]}.ts`;
}

// @saliency/core's facade bundles @saliency/methods and @saliency/sess (they depend on
// @saliency/core/base, so depending on them back would make a package cycle); every other
// package keeps its @saliency imports as imports of the installed packages.
const external = [
  /^@tensorflow\//,
  pkg.name === '@saliency/core' ? /^@saliency\/core(\/|$)/ : /^@saliency\//,
  ...Object.keys(pkg.dependencies ?? {}),
  ...Object.keys(pkg.optionalDependencies ?? {}),
];

const options: Options = {
  entry,
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  platform: pkg.name === '@saliency/node' ? 'node' : 'neutral',
  external,
  // tsup's default: code splitting for ESM only. The chunks let @saliency/metrics load OpenCV
  // (10 MB) only when graphCutBox is first called; CJS loads it lazily through require().
  shims: true,
  treeshake: false,
  tsconfig: '../../tsconfig.build.json',
};

export default defineConfig(options);
