#!/usr/bin/env node
// The `saliency` command. This launcher is a committed file, not a build output, so that
// `npm ci` links it into node_modules/.bin (npm links a bin only when its file exists at install
// time) and `npx --no-install saliency` finds it locally instead of asking the registry.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write(`saliency: ${fileURLToPath(cli)} is missing; build the packages first: npm run build\n`);
  process.exit(1);
}
await import(cli.href);
