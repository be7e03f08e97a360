// Which tfjs backend initBackend() chose here, why it skipped the faster ones, and what `prefer` does.
import { SaliencyError } from '@saliency/core';
import { initBackend } from '@saliency/node';

const choice = await initBackend({ quiet: true });   // tfjs-node-gpu → webgpu → tfjs-node → wasm → cpu
console.log(`backend: ${choice.name} (via ${choice.via})`);
for (const s of choice.skipped) console.log(`  skipped ${s.backend} (${s.package}): ${s.reason}`);
if (choice.bridgedKernels.length > 0) console.log(`  gradient kernels added for ${choice.name}: ${choice.bridgedKernels.join(', ')}`);

try {
  const native = await initBackend({ prefer: 'tensorflow' });   // force one backend: native TensorFlow on the CPU
  console.log(`prefer 'tensorflow': ${native.name} (via ${native.via})`);
} catch (e) {
  if (!(e instanceof SaliencyError)) throw e;
  console.log(`prefer 'tensorflow': ${e.code}: ${e.message}`);
}
