// vitest globalSetup: unpack @sparticuz/chromium's browser once, in the main process, before the
// test workers start — two browser suites unpacking it at the same time would race on the same
// files in the temp dir. When there is no Chromium at all this does nothing: the browser suites
// then fail, each with the message of chromiumExecutable() saying what to install.
import { chromiumExecutable } from './browser';

export default async function setup(): Promise<void> {
  try {
    process.env.SALIENCY_CHROMIUM = await chromiumExecutable();
  } catch {
    // reported by the browser suites themselves
  }
}
