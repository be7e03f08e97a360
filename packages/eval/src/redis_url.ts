import { connect } from 'node:net';
import { SaliencyError } from '@saliency/core';

/** Where a Redis server is, from a `redis://[user:password@]host[:port][/db]` URL. */
export interface RedisTarget {
  /** Host name or address. */
  host: string;
  /** TCP port (default 6379). */
  port: number;
  /** Database number (default 0). */
  db: number;
  /** ACL user name, if the URL has one. */
  username?: string;
  /** Password, if the URL has one. */
  password?: string;
}

/**
 * Parses a `redis://host:port/db` URL.
 *
 * @throws SaliencyError `BAD_OPTION` for anything else.
 */
export function parseRedisUrl(url: string): RedisTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new SaliencyError('BAD_OPTION', `--queue must be a URL like redis://127.0.0.1:6379/0; got '${url}'.`);
  }
  if (u.protocol !== 'redis:') throw new SaliencyError('BAD_OPTION', `--queue must be a redis:// URL (redis://host:port/db); got '${url}'.`);
  const db = u.pathname === '' || u.pathname === '/' ? 0 : Number(u.pathname.slice(1));
  if (!Number.isInteger(db) || db < 0) throw new SaliencyError('BAD_OPTION', `The database in '${url}' must be a non-negative integer.`);
  const port = u.port === '' ? 6379 : Number(u.port);
  const t: RedisTarget = { host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port, db };
  if (u.username !== '') t.username = decodeURIComponent(u.username);
  if (u.password !== '') t.password = decodeURIComponent(u.password);
  return t;
}

/**
 * Checks that a Redis server answers at `t` (a `PING` over TCP, any reply counts), so that a
 * worker or a run pointed at the wrong address stops at once with a clear error instead of
 * retrying forever.
 *
 * @throws SaliencyError `QUEUE_UNREACHABLE` when nothing answers within `timeoutMs`.
 */
export function checkRedis(t: RedisTarget, timeoutMs = 3000): Promise<void> {
  const where = `${t.host}:${t.port}`;
  return new Promise<void>((resolveCheck, rejectCheck) => {
    const socket = connect({ host: t.host, port: t.port });
    const fail = (why: string): void => {
      socket.destroy();
      rejectCheck(new SaliencyError('QUEUE_UNREACHABLE', `Cannot reach Redis at ${where} (${why}). Start redis-server there, or fix the --queue URL.`));
    };
    socket.setTimeout(timeoutMs, () => fail(`no answer within ${timeoutMs} ms`));
    socket.once('error', (e: NodeJS.ErrnoException) => fail(e.code ?? e.message));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => {
      socket.destroy();
      const c = d.toString('latin1')[0];
      if (c === '+' || c === '-') resolveCheck();
      else fail('the server there does not speak the Redis protocol');
    });
  });
}
