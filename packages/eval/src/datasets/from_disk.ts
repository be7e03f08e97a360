// Dataset readers and writers for data on disk (folders, Pascal VOC, COCO); re-exported by the package index.
export { mapClass, datasetError, type DatasetBox, type DatasetObject, type DatasetItem, type DatasetReadResult, type DatasetOptions, type SkippedEntry } from './dataset.js';
export { unionArea, isDifficultEntry } from './difficult.js';
export { labelledItems, type AnnotatedImage } from './labelled_items.js';
export { readVocDataset, parseVocAnnotation } from './voc_dataset.js';
export { readCocoDataset } from './coco_dataset.js';
export { readFolderDataset, IMAGE_EXTENSIONS } from './folder_dataset.js';
export { readDataset, readClassMap } from './read_dataset.js';
export { exportVoc, exportCoco, type ExportImage, type ExportedDataset, type ExportObject, type ExportedDatasets } from './export_datasets.js';
export { exportGeneratedDatasets, generatedExportImages, GENERATED_DIFFICULT_SIDE } from './generated_export.js';
export { exportFacesDatasets, facesExportImages } from './faces_export.js';
