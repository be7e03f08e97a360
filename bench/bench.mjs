// `npm run bench [-- ARGS]`: bench/run.mjs with ARGS, then bench/gradient-paths.mjs on the same
// backend (wasm when ARGS name none, or name `all`). npm appends ARGS to the LAST command of a
// script, so the two commands cannot simply be chained in package.json.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const at = args.findIndex((a) => a === '--backend' || a.startsWith('--backend='));
const named = at < 0 ? 'wasm' : args[at].includes('=') ? args[at].split('=')[1] : args[at + 1];
const backend = named == null || named === 'all' ? 'wasm' : named;
const run = (script, argv) => spawnSync(process.execPath, [fileURLToPath(new URL(script, import.meta.url)), ...argv], { stdio: 'inherit' }).status ?? 1;

const rc = run('./run.mjs', args);
if (rc !== 0) process.exit(rc);
const rc2 = run('./gradient-paths.mjs', ['--backend', backend]);
if (rc2 !== 0) process.exit(rc2);
process.exit(backend === 'wasm' ? run('./threads.mjs', []) : 0);
