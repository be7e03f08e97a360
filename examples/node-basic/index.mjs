// Ten lines to a heatmap: Grad-CAM of the bundled face-expression model on the first face of face-api's sample1.jpg.
import { explain, gradCam } from '@saliency/core';
import { initBackend, readImage, writeOverlayPng } from '@saliency/node';
import { loadFaceExpressionClassifier, sampleFaces } from '@saliency/models';

const backend = await initBackend({ quiet: true });                    // CUDA → native → wasm → cpu
const { classifier, dispose } = await loadFaceExpressionClassifier();  // 112×112 faces in 0–255, 7 expressions
const { path, faces } = sampleFaces()[0];                              // face-api's demo/sample1.jpg and its face boxes
const face = await readImage(path, { region: faces[0].box, square: true }); // the first face, padded to a square
const map = await explain(gradCam(), classifier, face);                // [H, W] in [0, 1] at the face's size, top class
await writeOverlayPng(face, map, 'out/node-basic/gradcam.png');        // the map in colour over the face
console.log(`${backend.name}: ${map.shape.join('×')} map → out/node-basic/gradcam.png`);
map.dispose(); dispose();
