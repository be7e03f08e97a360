// Types of plan.mjs (for the TypeScript tests in tests/bench/).
import type { Passes } from './stats.mjs';
export interface BenchConfig {
  name: string; runs: number; images: number[]; sessImages: number[]; sessMethods: string[] | null; passBatchRows: string[]; loopB8Models: string[];
  targetMs: number; sessTargetMs: number; capMs: number; longRowMs: number; longRowBudgetMs: number;
  riseMin: number; sessRiseMin: number; memoryN: [number, number]; memoryCapMs: number; speedup: boolean; speedupScales: number; speedupRuns: number;
  profiles: number; profileMinMs: number; profileMaxMs: number; models: string[]; cpuModels: string[];
}
export interface PlanRow { model: string; method: string; sess: boolean; images: number; passBatch: number | null }
export interface SizedRow {
  params: { n?: number; samples?: number; groups?: number; channels?: number };
  settings: string; passes: Passes; floorMs: number; estimateMs: number; runs: number; skip: string | null;
}
export declare const METHODS: string[];
export declare const MODELS: string[];
export declare const PERTURBATION: string[];
export declare const DEFAULT_PASS_BATCH: Record<string, number>;
export declare const SESS_SETTINGS: { scales: number; preFilterRatio: number; smooth: boolean; batchSize: number };
export declare const PERTURBATION_TARGET: number;
export declare const RISE_N: number[];
export declare const SMOOTH_SAMPLES: number[];
export declare const ESTIMATE_RATIO: number;
export declare const FULL: Readonly<BenchConfig>;
export declare const QUICK: Readonly<BenchConfig>;
export declare function rowKey(r: PlanRow): string;
export declare function buildPlan(cfg: BenchConfig, models: readonly string[], methods: readonly string[]): PlanRow[];
export declare function scalePasses(p: Passes, k: number): Passes;
export declare function sizeRow(row: PlanRow, model: { channels: number; patches: number; kept: number }, units: Passes, cfg: BenchConfig): SizedRow;
