// Types of stats.mjs (for the TypeScript tests in tests/bench/).
export interface Passes { F: number; G: number; L: number; H?: number; R?: number }
export type PassKind = keyof Passes;
export declare function loneFloorMs(passes: Passes, units: Partial<Passes>, units1: Partial<Passes> | null | undefined, images?: number): number;
export interface TimeSummary { runs: number; median: number; min: number; max: number }
export interface KernelTotal { name: string; calls: number; ms: number; pct: number }
export declare const PASS_KINDS: PassKind[];
export declare function median(xs: readonly number[]): number;
export declare function summarize(ms: readonly number[]): TimeSummary;
export declare function passesPerImage(method: string, p?: { samples?: number; n?: number; groups?: number; channels?: number; reduced?: boolean }): Passes;
export declare function sessPasses(base: Passes, geometry: { patches: number; kept: number }): Passes;
export declare function floorMs(passes: Passes, units: Partial<Passes>, images?: number): number;
export declare function floorRatio(ms: number, floor: number): number | null;
export declare function describePasses(passes: Passes, images?: number): string;
export declare function runsFor(
  estimateMs: number, cfg: { runs: number; longRowMs: number; longRowBudgetMs: number; shortRowMs?: number; shortRuns?: number },
): number;
export declare const PAIRED_LIMIT: number;
export interface PairedCall { kind: PassKind; batch: number; count: number }
export declare function pairedFloorPlan(passes: Passes, images: number, fullBatch: Partial<Passes>): PairedCall[];
export declare function pairedFloorMs(plan: readonly PairedCall[], callMs: readonly number[]): number;
export declare function pickSize(candidates: readonly number[], unitMs: number, targetMs: number, fixedMs?: number): number;
export declare function fmtMs(ms: number | null | undefined): string;
export declare function fmtRatio(r: number | null | undefined): string;
export declare function markdownTable(header: readonly unknown[], rows: readonly (readonly unknown[])[]): string;
export declare function rowLabel(row: { method: string; sess: boolean }): string;
/** `result`: the object bench/run.mjs writes as JSON. */
export declare function renderMarkdown(result: object): string;
export declare function aggregateKernels(
  kernels: readonly { name: string; kernelTimeMs: number | { kernelMs?: number } }[], top?: number,
): { kernelMs: number; kernelCount: number; top: KernelTotal[] };
