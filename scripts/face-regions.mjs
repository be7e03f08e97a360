// Derives ground-truth face regions (mouth, left eye, right eye) for the `faces` evaluation set from
// the 68 landmarks that face-api's own landmark network found (assets/sample-faces.json, written by
// scripts/detect-sample-faces.mjs), in the coordinates of each face's square crop (the face box grown
// to a centred square, the crop convention of the face model and of `readImage(..., {square: true})`).
// Usage: node scripts/face-regions.mjs   (writes packages/models/assets/face-regions.json)
import { readFileSync, writeFileSync } from 'node:fs';

const src = new URL('../packages/models/assets/sample-faces.json', import.meta.url);
const out = new URL('../packages/models/assets/face-regions.json', import.meta.url);
const faces = JSON.parse(readFileSync(src, 'utf8'));

// iBUG 68-point order: right eye (image left) 36–41, left eye 42–47, outer + inner lips 48–67.
const REGIONS = { mouth: [48, 68], eyeLeftInImage: [36, 42], eyeRightInImage: [42, 48] };
// Eye landmarks hug the eyelids: grow eye boxes by this fraction of their width on every side so the
// box holds the whole eye; the mouth's outer-lip landmarks already bound it.
const EYE_MARGIN = 0.25;

const round = (v) => Math.round(v * 10) / 10;
const images = faces.images.map((img) => ({
  file: img.file,
  faces: img.faces.map((f, i) => {
    const { x, y, width, height } = f.box;
    const side = Math.max(1, Math.round(Math.max(width, height)));
    const x0 = Math.round(x + width / 2 - side / 2);
    const y0 = Math.round(y + height / 2 - side / 2);
    const regions = {};
    for (const [name, [a, b]] of Object.entries(REGIONS)) {
      const pts = f.landmarks.slice(a, b);
      let minX = Math.min(...pts.map((p) => p[0])) - x0, maxX = Math.max(...pts.map((p) => p[0])) - x0;
      let minY = Math.min(...pts.map((p) => p[1])) - y0, maxY = Math.max(...pts.map((p) => p[1])) - y0;
      if (name !== 'mouth') {
        const m = EYE_MARGIN * (maxX - minX);
        minX -= m; maxX += m; minY -= m; maxY += m;
      }
      regions[name] = { x: round(minX), y: round(minY), width: round(maxX - minX), height: round(maxY - minY) };
    }
    return { index: i, crop: { x: x0, y: y0, side }, regions };
  }),
}));

writeFileSync(out, JSON.stringify({
  description: 'Mouth and eye boxes per face of assets/sample-faces.json, in the pixels of the face\'s square crop (crop.x, crop.y, crop.side in the photo).',
  generator: 'scripts/face-regions.mjs',
  landmarks: 'face-api 68-point landmark network (assets/sample-faces.json)',
  eyeMargin: EYE_MARGIN,
  images,
}, null, 1) + '\n');
console.log(`wrote ${images.reduce((n, i) => n + i.faces.length, 0)} faces to ${out.pathname}`);
