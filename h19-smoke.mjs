import { create } from 'webgpu';
const gpu = create([]);
const a = await gpu.requestAdapter();
console.log('adapter', a.info.vendor);
