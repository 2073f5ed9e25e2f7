// Types of bench/sched-trace.mjs, for the unit tests (test/unit/sched-trace.test.ts).
export const WAIT_BOUNDS_US: number[];
export interface Who {
  process: string;
  role: string;
}
export interface SchedRow {
  process: string;
  role: string;
  tid: number;
  waits: number;
  meanWaitUs: number;
  preempted: number;
  stallMs: number;
  runs: number;
  cpuMs: number;
  runsOver1ms: number;
  [bound: `waitsOver${string}`]: number;
}
export interface SchedSummary {
  rows: SchedRow[];
  ranBefore: { what: string; stallMs: number }[];
}
export function schedProgram(tids: number[], seconds: number): string;
export function summarizeSched(jsonLines: string[], threads: Map<number, Who>): SchedSummary;
export function threadsOf(processes: { process: string; pid: number }[]): Map<number, Who>;
export function schedTraceUnavailable(): string | null;
export function traceSched(threads: Map<number, Who>, seconds: number): Promise<SchedSummary | { error: string }>;
