// The append-only record store shared by the processes of a run: one record per key, torn writes
// (a process killed mid-line) never lose another process's record, compaction is atomic.
import { mkdtempSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JsonlStore, parseStoreLine } from '../../packages/eval/src/jsonl_store.js';

interface Rec { key: string; value: number; error?: string }
const tmp = (): string => join(mkdtempSync(join(tmpdir(), 'jsonl-')), 'records.jsonl');
const lines = (p: string): string[] => readFileSync(p, 'utf8').split('\n').filter((l) => l !== '');

describe('JsonlStore', () => {
  it('writes one line per key; a second write of a key is a no-op', async () => {
    const path = tmp();
    const s = await JsonlStore.open<Rec>(path);
    expect(await s.add({ key: 'a', value: 1 })).toBe(true);
    expect(await s.add({ key: 'b', value: 2 })).toBe(true);
    expect(await s.add({ key: 'a', value: 99 })).toBe(false);
    expect(lines(path)).toEqual(['{"key":"a","value":1}', '{"key":"b","value":2}']);
    const again = await JsonlStore.open<Rec>(path);
    expect(again.all()).toEqual([{ key: 'a', value: 1 }, { key: 'b', value: 2 }]);
    expect(await again.add({ key: 'b', value: 3 })).toBe(false);
    expect(lines(path)).toHaveLength(2);
  });

  it('refuses a record whose first property is not its key (the torn-write recovery relies on it)', async () => {
    const s = await JsonlStore.open<Rec>(tmp());
    await expect(s.add({ value: 1, key: 'x' } as Rec)).rejects.toThrow(/first property/);
  });

  it('a failed record is replaced by a later success, never the other way round', async () => {
    const path = tmp();
    const s = await JsonlStore.open<Rec>(path);
    await s.add({ key: 'a', value: 0, error: 'boom' });
    expect(s.has('a')).toBe(false);
    expect(s.get('a')?.error).toBe('boom');
    expect(await s.add({ key: 'a', value: 1 })).toBe(true);
    expect(s.has('a')).toBe(true);
    expect(await s.add({ key: 'a', value: 0, error: 'late failure' })).toBe(false);
    const again = await JsonlStore.open<Rec>(path);
    expect(again.get('a')).toEqual({ key: 'a', value: 1 });
  });

  it('a torn last line is ignored and ended, so the next record stays whole', async () => {
    const path = tmp();
    writeFileSync(path, '{"key":"a","value":1}\n{"key":"b","val');
    const s = await JsonlStore.open<Rec>(path);
    expect(s.all()).toEqual([{ key: 'a', value: 1 }]);
    await s.add({ key: 'b', value: 2 });
    const again = await JsonlStore.open<Rec>(path);
    expect(again.all()).toEqual([{ key: 'a', value: 1 }, { key: 'b', value: 2 }]);
  });

  it('a fragment left by a killed writer and followed by another writer\'s record loses only the fragment', async () => {
    const path = tmp();
    // Process 1 died mid-line; process 2 (which opened the store earlier) appended after it.
    writeFileSync(path, '{"key":"a","value":1}\n{"key":"b","value":{"key":"c","value":3}\n{"key":"d","value":4}\n');
    const s = await JsonlStore.open<Rec>(path);
    expect(s.all()).toEqual([{ key: 'a', value: 1 }, { key: 'c', value: 3 }, { key: 'd', value: 4 }]);
    expect(parseStoreLine('garbage')).toBeNull();
    expect(parseStoreLine('{"key":"x","value":"has {\\"key\\": inside"}')).toEqual({ key: 'x', value: 'has {"key": inside' });
  });

  it('refresh() reads what another writer appended, including a line completed later', async () => {
    const path = tmp();
    const reader = await JsonlStore.open<Rec>(path);
    const writer = await JsonlStore.open<Rec>(path);
    await writer.add({ key: 'a', value: 1 });
    appendFileSync(path, '{"key":"b",');
    await reader.refresh();
    expect(reader.all().map((r) => r.key)).toEqual(['a']);
    appendFileSync(path, '"value":2}\n');
    await reader.refresh();
    expect(reader.all()).toEqual([{ key: 'a', value: 1 }, { key: 'b', value: 2 }]);
    expect(reader.has('b')).toBe(true);
  });

  it('compact() rewrites the records in the given order without duplicates or fragments', async () => {
    const path = tmp();
    writeFileSync(path, '{"key":"c","value":3}\n{"key":"a","value":1}\n{"key":"a","value":1}\n{"key":"x","v{"key":"b","value":2}\n{"key":"z","value":26}\n');
    const s = await JsonlStore.open<Rec>(path);
    await s.compact(['a', 'b', 'c']);
    expect(lines(path)).toEqual(['{"key":"a","value":1}', '{"key":"b","value":2}', '{"key":"c","value":3}', '{"key":"z","value":26}']);
    await s.add({ key: 'd', value: 4 });
    expect(lines(path).at(-1)).toBe('{"key":"d","value":4}');
    const again = await JsonlStore.open<Rec>(path);
    expect(again.all().map((r) => r.key)).toEqual(['a', 'b', 'c', 'z', 'd']);
  });
});
