// Ten lines to a heatmap: Grad-CAM of the bundled face-expression model on a face in one of face-api's sample photos.
import { explain, gradCam } from '@saliency/core';
import { initBackend, loadFaceExpressionClassifier, readImage, sampleFaces, writeOverlayPng } from '@saliency/node';

await initBackend();                                                   // CUDA → native → wasm → cpu
const { classifier, dispose } = await loadFaceExpressionClassifier();
const { path, faces } = sampleFaces()[0];                              // a photo and the faces in it
const face = await readImage(path, { region: faces[0].box, square: true });
const map = await explain(gradCam(), classifier, face);                // [H, W] in [0, 1], 'top' class
await writeOverlayPng(face, map, 'out/node-basic.png');
map.dispose(); dispose();
