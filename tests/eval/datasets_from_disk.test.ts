/**
 * Dataset readers on real files: the generated digit scenes exported as a Pascal VOC folder and a
 * COCO instances file, read back through readDataset. Boxes, classes and difficult flags must
 * round-trip exactly; the "difficult" subset must match design.md §9 computed here pixel by pixel;
 * broken files, missing images and unknown classes give coded errors or counted skips.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FACE_EXPRESSION_CLASSES, sampleFaces } from '@saliency/models';
import {
  exportCoco, exportFacesDatasets, exportVoc, GENERATED_DIFFICULT_SIDE, generateLocalisationSet, generatedExportImages, readClassMap, readDataset,
  unionArea, type DatasetItem, type ExportImage,
} from '@saliency/eval';

const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
const dir = mkdtempSync(join(tmpdir(), 'saliency-datasets-'));
let images: ExportImage[];
let voc: string;
let coco: string;

beforeAll(async () => {
  images = generatedExportImages(generateLocalisationSet({ seed: 7, count: 24, split: 'test', size: [160, 192] }));
  voc = (await exportVoc(images, join(dir, 'voc'), 'val')).spec;
  coco = (await exportCoco(images, join(dir, 'coco'))).spec;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The stem of an item's image file = the exported image id. */
const stem = (item: DatasetItem): string => basename(item.imagePath).replace(/\.png$/, '');

/** design.md §9 for (image, class), computed on a pixel mask: another class present, or the class's boxes cover < 1/4. */
function difficultByPixels(img: ExportImage, cls: string): boolean {
  if (img.objects.some((o) => o.className !== cls)) return true;
  const mask = new Uint8Array(img.width * img.height);
  for (const o of img.objects) for (let y = o.box.y; y < o.box.y + o.box.height; y++) for (let x = o.box.x; x < o.box.x + o.box.width; x++) mask[y * img.width + x] = 1;
  return mask.reduce((a, v) => a + v, 0) * 4 < img.width * img.height;
}

function checkRoundTrip(items: DatasetItem[]): void {
  const byImage = new Map(images.map((i) => [i.id, i]));
  const expected = images.flatMap((img) => [...new Set(img.objects.map((o) => o.className))].map((c) => `${img.id}:${c}`)).sort();
  expect(items.map((i) => `${stem(i)}:${DIGITS[i.target as number]}`).sort()).toEqual(expected);
  for (const item of items) {
    const img = byImage.get(stem(item))!;
    expect([item.width, item.height]).toEqual([img.width, img.height]);
    expect(existsSync(item.imagePath)).toBe(true);
    // Every object, exactly: class, whole-pixel box, difficult flag.
    expect(item.objects.map((o) => ({ className: o.className, box: o.box, difficult: o.difficult })))
      .toEqual(img.objects.map((o) => ({ className: o.className, box: o.box, difficult: o.difficult })));
    for (const o of item.objects) expect(o.classIndex).toBe(DIGITS.indexOf(o.className));
    expect(item.difficultSubset).toBe(difficultByPixels(img, DIGITS[item.target as number]));
  }
}

describe('Pascal VOC and COCO readers on the exported generated set', () => {
  it('the export has both difficult flags and both kinds of difficult-subset entries (the checks below can fail)', () => {
    const flags = images.flatMap((i) => i.objects.map((o) => o.difficult));
    expect(flags).toContain(true);
    expect(flags).toContain(false);
    for (const i of images) for (const o of i.objects) expect(o.difficult).toBe(Math.min(o.box.width, o.box.height) < GENERATED_DIFFICULT_SIDE);
    const subset = images.flatMap((img) => [...new Set(img.objects.map((o) => o.className))].map((c) => difficultByPixels(img, c)));
    expect(subset).toContain(true);
    expect(subset).toContain(false);
  });

  it('VOC: bndbox is 1-based inclusive in the XML; boxes, classes, difficult flags round-trip exactly; split file honoured', async () => {
    const first = images[0];
    const xml = readFileSync(join(dir, 'voc', 'Annotations', `${first.id}.xml`), 'utf8');
    const b = first.objects[0].box;
    expect(xml).toContain(`<xmin>${b.x + 1}</xmin>`);
    expect(xml).toContain(`<xmax>${b.x + b.width}</xmax>`);
    expect(xml).toContain(`<ymin>${b.y + 1}</ymin>`);
    expect(xml).toContain(`<ymax>${b.y + b.height}</ymax>`);
    const read = await readDataset(voc, { labels: DIGITS, split: 'val' });
    expect(read.skipped).toEqual([]);
    checkRoundTrip(read.items);
    const all = await readDataset(voc, { labels: DIGITS });
    expect(all.items.map((i) => i.id)).toEqual(read.items.map((i) => i.id).sort());
    await expect(readDataset(voc, { labels: DIGITS, split: 'train' })).rejects.toMatchObject({ code: 'BAD_DATASET' });
  });

  it('COCO: bbox [x, y, w, h], categories and iscrowd round-trip exactly, and agree with the VOC reading', async () => {
    const read = await readDataset(coco, { labels: DIGITS });
    expect(read.skipped).toEqual([]);
    checkRoundTrip(read.items);
    const fromVoc = await readDataset(voc, { labels: DIGITS, split: 'val' });
    const key = (i: DatasetItem): string => `${stem(i)}#${i.target}`;
    const vocByKey = new Map(fromVoc.items.map((i) => [key(i), i]));
    for (const item of read.items) {
      const other = vocByKey.get(key(item))!;
      expect(item.objects).toEqual(other.objects);
      expect(item.difficultSubset).toBe(other.difficultSubset);
    }
  });

  it('classes the model lacks are skipped and counted; a class map renames and merges', async () => {
    const labels = ['0', '1', '2'];
    const read = await readDataset(voc, { labels, split: 'val' });
    const pairs = images.flatMap((img) => [...new Set(img.objects.map((o) => o.className))].map((c) => ({ img, c })));
    expect(read.items.length).toBe(pairs.filter((p) => labels.includes(p.c)).length);
    expect(read.skipped.length).toBe(pairs.filter((p) => !labels.includes(p.c)).length);
    expect(read.skipped.every((s) => /not one of the model's classes/.test(s.reason))).toBe(true);
    // Unknown-class objects stay in the item (classIndex −1) and still make the entry "difficult".
    for (const item of read.items) {
      if (item.objects.some((o) => o.classIndex < 0)) expect(item.difficultSubset).toBe(true);
    }
    const mapFile = join(dir, 'map.json');
    writeFileSync(mapFile, JSON.stringify({ 3: 'odd', 5: 'odd', 7: 'odd', 9: 'odd', 1: 'odd' }));
    const classMap = readClassMap(mapFile);
    const mapped = await readDataset(coco, { labels: ['odd'], classMap });
    const odd = images.filter((img) => img.objects.some((o) => Number(o.className) % 2 === 1));
    expect(mapped.items.length).toBe(odd.length); // one entry per image, however many odd digits it holds
    for (const item of mapped.items) {
      const img = odd.find((i) => i.id === stem(item))!;
      const hasEven = img.objects.some((o) => Number(o.className) % 2 === 0);
      const cover = unionArea(img.objects.map((o) => o.box));
      expect(item.difficultSubset).toBe(hasEven || cover * 4 < img.width * img.height);
    }
    writeFileSync(mapFile, '["not", "an", "object"]');
    expect(() => readClassMap(mapFile)).toThrowError(expect.objectContaining({ code: 'BAD_DATASET' }));
  });

  it('a numeric target keeps only that class', async () => {
    const read = await readDataset(voc, { labels: DIGITS, target: 4 });
    expect(read.items.length).toBe(images.filter((i) => i.objects.some((o) => o.className === '4')).length);
    expect(read.items.every((i) => i.target === 4)).toBe(true);
  });

  it('malformed XML, a missing image or annotation → counted skips; malformed or non-COCO JSON, no Annotations/ → BAD_DATASET', async () => {
    const broken = join(dir, 'voc-broken');
    await exportVoc(images.slice(0, 4), broken);
    writeFileSync(join(broken, 'Annotations', `${images[0].id}.xml`), '<annotation><size><width>10</width></size><object><name>3</name>');
    unlinkSync(join(broken, 'JPEGImages', `${images[1].id}.png`));
    writeFileSync(join(broken, 'Annotations', `${images[2].id}.xml`),
      readFileSync(join(broken, 'Annotations', `${images[2].id}.xml`), 'utf8').replace(/<xmin>\d+<\/xmin>/, '<xmin>left</xmin>'));
    writeFileSync(join(broken, 'ImageSets', 'Main', 'test.txt'), [...images.slice(0, 4).map((i) => i.id), 'no-such-id'].join('\n'));
    const read = await readDataset(`voc:${broken}`, { labels: DIGITS, split: 'test' });
    expect(read.skipped.map((s) => s.id).sort()).toEqual([images[0].id, images[1].id, images[2].id, 'no-such-id'].sort());
    expect(read.skipped.find((s) => s.id === images[0].id)!.reason).toMatch(/malformed XML/);
    expect(read.skipped.find((s) => s.id === images[1].id)!.reason).toMatch(/image .* is missing/);
    expect(read.skipped.find((s) => s.id === images[2].id)!.reason).toMatch(/xmin is not a number/);
    expect(new Set(read.items.map(stem))).toEqual(new Set([images[3].id]));
    await expect(readDataset(`voc:${join(dir, 'nowhere')}`, { labels: DIGITS })).rejects.toMatchObject({ code: 'BAD_DATASET' });

    const json = join(dir, 'coco', 'instances.json');
    const imageDir = join(dir, 'coco', 'images');
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, readFileSync(json, 'utf8').slice(0, 200));
    await expect(readDataset(`coco:${bad},${imageDir}`, { labels: DIGITS })).rejects.toMatchObject({ code: 'BAD_DATASET' });
    writeFileSync(bad, JSON.stringify({ images: [] }));
    await expect(readDataset(`coco:${bad},${imageDir}`, { labels: DIGITS })).rejects.toMatchObject({ code: 'BAD_DATASET', message: expect.stringContaining("'annotations'") });
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    doc.annotations[0].category_id = 999;
    doc.annotations[1].bbox = [1, 2, -3, 4];
    doc.images[2].file_name = 'gone.png';
    writeFileSync(bad, JSON.stringify(doc));
    const partial = await readDataset(`coco:${bad},${imageDir}`, { labels: DIGITS });
    expect(partial.skipped.map((s) => s.reason).join('\n')).toMatch(/category 999/);
    expect(partial.skipped.map((s) => s.reason).join('\n')).toMatch(/bbox must be/);
    expect(partial.skipped.map((s) => s.reason).join('\n')).toMatch(/gone\.png is missing/);
    await expect(readDataset('coco:only-one-part', { labels: DIGITS })).rejects.toMatchObject({ code: 'BAD_DATASET' });
  });

  it('a folder or a glob of images: one item per image, target top or given, sizes read from the files, unreadable files counted', async () => {
    const folder = join(dir, 'voc', 'JPEGImages');
    writeFileSync(join(folder, 'zz-not-an-image.jpg'), 'hello');
    const read = await readDataset(folder, { labels: DIGITS });
    expect(read.items.length).toBe(images.length);
    expect(read.items.every((i) => i.target === 'top' && i.objects.length === 0 && !i.difficultSubset)).toBe(true);
    expect(read.items.map((i) => [i.width, i.height])).toEqual(images.map((i) => [i.width, i.height]));
    expect(read.skipped).toEqual([{ id: 'zz-not-an-image.jpg', reason: expect.stringContaining('not a readable image') }]);
    const globbed = await readDataset(join(folder, `${images[0].id.slice(0, -1)}*.png`), { labels: DIGITS, target: 3 });
    expect(globbed.items.length).toBeGreaterThan(0);
    expect(globbed.items.every((i) => i.target === 3)).toBe(true);
    await expect(readDataset(join(dir, 'empty-*.png'), { labels: DIGITS })).rejects.toMatchObject({ code: 'BAD_DATASET' });
    await expect(readDataset(folder, { labels: DIGITS, target: 10 })).rejects.toMatchObject({ code: 'BAD_TARGET' });
    unlinkSync(join(folder, 'zz-not-an-image.jpg'));
  });

  it('the faces set exported: one item per face, target = face-api\'s expression, mouth and eyes as whole-pixel boxes', async () => {
    const { voc: faceVoc, coco: faceCoco } = await exportFacesDatasets(join(dir, 'faces'));
    const faces = sampleFaces().flatMap((img) => img.faces);
    for (const spec of [faceVoc.spec, faceCoco.spec]) {
      const read = await readDataset(spec, { labels: [...FACE_EXPRESSION_CLASSES] });
      expect(read.skipped).toEqual([]);
      expect(read.items.length).toBe(faces.length);
      read.items.forEach((item) => {
        const k = Number(/face(\d+)/.exec(item.imagePath)![1]);
        const file = /sample\d+/.exec(item.imagePath)![0];
        const face = sampleFaces().find((img) => img.file === `demo/${file}.jpg`)!.faces[k];
        const p = face.expressions.squareCrop;
        expect(item.target).toBe(p.indexOf(Math.max(...p)));
        expect(item.width).toBe(Math.round(Math.max(face.box.width, face.box.height)));
        expect(item.objects.length).toBe(3);
        expect(item.difficultSubset).toBe(unionArea(item.objects.map((o) => o.box)) * 4 < item.width * item.height);
      });
    }
  });
});
