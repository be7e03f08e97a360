/**
 * `@saliency/eval` — the evaluation suite (pointing game, localisation error, saliency metric,
 * insertion/deletion over generated digit scenes, face-api's faces and photographs), the
 * generated data sets with exact boxes, and the training of the digit masking model. The
 * `saliency eval` and `saliency train-masker` commands of `@saliency/node` load this package
 * when they run.
 *
 * @packageDocumentation
 * @module @saliency/eval
 */
export * from './datasets/index.js';
export * from './datasets/from_disk.js';
export { trainMasker, loadDigitMasker, hasDigitMasker, pickEncoderLayers, generatedMaskingData, MASKER_TRAIN_SEED, DIGIT_MASKER_TRAINING, FACE_MASKER_TRAINING, type MaskerTrainingSet, type TrainMaskerOptions, type TrainedMasker, type DigitMaskerTraining } from './train_masker.js';
export { runEvaluation, EVAL_METHODS, EVAL_EXTRA_METHODS, EVAL_SPLITS, EVAL_SESS_OPTIONS, SKIPPED_VARIANTS, type EvalOptions, type EvalDataset, type EvalResult, type EvalFiles, type EvalThroughput } from './run_eval.js';
export { EVAL_SET_NAMES, type EvalSetName, type EvalSplit, type EvalItem, type EvalSet, type EvalModelName } from './eval_set.js';
export type { SummaryRow, MeanCurves } from './summary.js';
export { runEvalCommand, type EvalFlags } from './cli_eval.js';
export { runTrainMaskerCommand, type TrainMaskerFlags } from './cli_train_masker.js';
export { progressBar } from './progress_bar.js';
export { datasetEvalSet, DATASET_POINTING_TOLERANCE } from './dataset_eval_set.js';
export { runWorkerCommand, type WorkerFlags } from './cli_worker.js';
export { jobKey, canonicalJson, fileIdentity, pixelIdentity, type EvalJob, type JobImage, type JobModel, type JobSettings, type ImageIdentity } from './job.js';
export { JobRunner, failedRecord, loadEvalSet } from './job_runner.js';
export { JsonlStore, parseStoreLine, type KeyedRecord } from './jsonl_store.js';
export { runLocalPool, poolChildEntry, type LocalPoolOptions, type LocalPoolResult, type PoolEvent } from './local_pool.js';
export { runOnQueue, DEFAULT_QUEUE_NAME, type QueueRunOptions, type QueueRunResult } from './queue_run.js';
export { runQueueWorker, type QueueWorkerOptions, type QueueWorkerEvent, type QueueWorkerResult } from './queue_worker.js';
export { parseRedisUrl, checkRedis, type RedisTarget } from './redis_url.js';
export { QUEUE_INSTALL_COMMAND } from './bullmq_loader.js';
export { openRecordStore, type EvalRecord, type RecordStore } from './records.js';
export { faceMaskingData, FACE_MASKER_HOLDOUT, type FaceMaskingDataOptions } from './face_masking_data.js';
