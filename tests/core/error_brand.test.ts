// SaliencyError is recognised across copies of @saliency/core (ESM and CJS builds loaded side by
// side): tests/packaging/install.test.ts checks the real two builds; this checks the brand itself.
import { describe, expect, it } from 'vitest';
import { isSaliencyError, SaliencyError } from '@saliency/core';

describe('SaliencyError brand', () => {
  it('instanceof and isSaliencyError agree on errors of this copy, of another copy, and on others', () => {
    const own = new SaliencyError('BAD_OPTION', 'x');
    // What another copy of errors.ts makes: an Error carrying the same Symbol.for brand.
    const other = Object.defineProperty(Object.assign(new Error('y'), { code: 'ABORTED' }), Symbol.for('@saliency/core:SaliencyError'), { value: true });
    const plain = Object.assign(new Error('z'), { code: 'ABORTED' });
    expect([own instanceof SaliencyError, isSaliencyError(own)]).toEqual([true, true]);
    expect([other instanceof SaliencyError, isSaliencyError(other)]).toEqual([true, true]);
    expect([plain instanceof SaliencyError, isSaliencyError(plain)]).toEqual([false, false]);
    expect([null, undefined, 'SaliencyError', 3].map(isSaliencyError)).toEqual([false, false, false, false]);
    expect(own instanceof Error).toBe(true);
    expect(own.code).toBe('BAD_OPTION');
    expect(own.name).toBe('SaliencyError');
  });
});
