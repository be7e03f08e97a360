// Test helpers for the browser tests: a static file server on 127.0.0.1 (node:http, no network),
// Chromium through playwright-core (Debian's where installed, else the one inside the
// @sparticuz/chromium npm package; never a browser download), and Vite builds into temp dirs.
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json',
  '.bin': 'application/octet-stream', '.wasm': 'application/wasm', '.jpg': 'image/jpeg', '.png': 'image/png',
};

/** A static server: URL prefix → folder. Serves index.html for '/'. */
export async function serveFolders(routes: Record<string, string>): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
    const prefix = Object.keys(routes).filter((p) => path.startsWith(p)).sort((a, b) => b.length - a.length)[0];
    if (prefix == null) { res.statusCode = 404; res.end('not found'); return; }
    const root = resolve(routes[prefix] as string);
    let file = normalize(join(root, path.slice(prefix.length)));
    if (file !== root && !file.startsWith(root + sep)) { res.statusCode = 403; res.end(); return; }
    try {
      if (statSync(file).isDirectory()) file = join(file, 'index.html');
      const body = readFileSync(file);
      res.setHeader('content-type', TYPES[extname(file)] ?? 'application/octet-stream');
      // No keep-alive: a client reusing a socket the server is closing gets ECONNRESET.
      res.setHeader('connection', 'close');
      res.end(body);
    } catch {
      res.statusCode = 404;
      res.end('not found');
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const address = server.address();
  const port = typeof address === 'object' && address != null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((ok) => { server.closeAllConnections(); server.close(() => ok()); }),
  };
}

/** Debian's Chromium, where `apt-get install chromium` put it. */
const SYSTEM_CHROMIUM = '/usr/bin/chromium';

/**
 * The Chromium the browser tests drive: `$SALIENCY_CHROMIUM` if set, else Debian's
 * (/usr/bin/chromium), else the build inside the `@sparticuz/chromium` npm package (a root
 * devDependency, so `npm ci` brings it; it unpacks itself and its SwiftShader libraries into the
 * temp dir on first use, and runs WebGPU on SwiftShader). Throws, saying what to run, when there
 * is none: the browser suites never skip silently.
 */
export async function chromiumExecutable(): Promise<string> {
  const fromEnv = process.env.SALIENCY_CHROMIUM;
  if (fromEnv != null && fromEnv !== '') {
    if (!existsSync(fromEnv)) throw new Error(`SALIENCY_CHROMIUM=${fromEnv} does not exist.`);
    return fromEnv;
  }
  if (existsSync(SYSTEM_CHROMIUM)) return SYSTEM_CHROMIUM;
  try {
    const { default: packaged } = await import('@sparticuz/chromium');
    return await packaged.executablePath();
  } catch (e) {
    throw new Error(`The browser tests need Chromium and found none: ${SYSTEM_CHROMIUM} is absent and @sparticuz/chromium `
      + `could not provide one (${(e as Error).message}). Run \`npm ci\` in the repository root (it installs @sparticuz/chromium), `
      + 'or install Debian\'s: sudo apt-get install -y chromium, or set SALIENCY_CHROMIUM to a Chromium binary.');
  }
}

/** Chromium (see {@link chromiumExecutable}), headless, with WebGPU enabled (SwiftShader); a fresh profile in a temp dir. */
export async function launchChromium(): Promise<{ context: BrowserContext; page: Page; close: () => Promise<void> }> {
  const executablePath = await chromiumExecutable();
  const profile = mkdtempSync(join(tmpdir(), 'saliency-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    ignoreDefaultArgs: ['--headless'],
    args: ['--headless=new', '--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1100, height: 760 },
  });
  const page = context.pages()[0] ?? await context.newPage();
  const logs: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') logs.push(m.text()); });
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  (page as Page & { errorLog?: string[] }).errorLog = logs;
  return {
    context,
    page,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Console errors and uncaught page errors seen so far. */
export function pageErrors(page: Page): string[] {
  return (page as Page & { errorLog?: string[] }).errorLog ?? [];
}

/** A fresh temp dir (removed by the caller). */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Spearman rank correlation (average ranks for ties). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ranks = (v: ArrayLike<number>): Float64Array => {
    const idx = Array.from({ length: v.length }, (_, i) => i).sort((i, j) => (v[i] as number) - (v[j] as number));
    const r = new Float64Array(v.length);
    for (let s = 0; s < idx.length;) {
      let e = s;
      while (e + 1 < idx.length && v[idx[e + 1] as number] === v[idx[s] as number]) e++;
      for (let k = s; k <= e; k++) r[idx[k] as number] = (s + e) / 2;
      s = e + 1;
    }
    return r;
  };
  const ra = ranks(a), rb = ranks(b);
  const n = ra.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) { ma += ra[i] as number; mb += rb[i] as number; }
  ma /= n; mb /= n;
  let cov = 0, va = 0, vb = 0;
  for (let i = 0; i < n; i++) {
    const da = (ra[i] as number) - ma, db = (rb[i] as number) - mb;
    cov += da * db; va += da * da; vb += db * db;
  }
  return cov / Math.sqrt(va * vb);
}

/**
 * Builds a Vite site from `configFile` into `outDir` (the page's JS is a real bundle). Throws when
 * the bundle would pull in a Node.js built-in (Vite's "externalized for browser compatibility").
 */
export async function buildSite(configFile: string, outDir: string): Promise<void> {
  const { build, createLogger } = await import('vite');
  const logger = createLogger('error');
  const nodeBuiltins: string[] = [];
  const warn = logger.warn.bind(logger);
  logger.warn = (msg, opts) => {
    if (/externalized for browser compatibility/.test(msg)) nodeBuiltins.push(msg);
    warn(msg, opts);
  };
  await build({ configFile, customLogger: logger, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  if (nodeBuiltins.length > 0) throw new Error(`The browser bundle imports Node.js built-ins:\n${nodeBuiltins.join('\n')}`);
}
