#!/usr/bin/env node
/**
 * The `saliency` command line.
 *
 * ```
 * saliency explain <image...> [--method gradient|gradcam] [--target N|top] [--layer NAME]
 *                             [--out DIR] [--backend NAME] [--model face|mobilenet] [--box x,y,w,h]
 * saliency demo [--out DIR] [--backend NAME]
 * ```
 *
 * @packageDocumentation
 */
import { SaliencyError } from '@saliency/core';
import { runCli } from './cli_run.js';

// Exit status: 0 success; 1 some images failed (each reported on stderr) or an unexpected error;
// 2 a usage error or another coded error (SaliencyError), printed as [CODE] before any work.
runCli(process.argv.slice(2), (line) => process.stdout.write(line + '\n'), (line) => process.stderr.write(line + '\n')).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    const e = err as Error;
    process.stderr.write(`saliency: ${e instanceof SaliencyError ? `[${e.code}] ` : ''}${e.message}\n`);
    process.exitCode = e instanceof SaliencyError ? 2 : 1;
  },
);
