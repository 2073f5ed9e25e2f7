// Types of bench/profile.mjs, for the unit tests (test/unit/bench-lines.test.ts).
export function summarizeProfile(dir: string, n?: number, skipMs?: number, untilMs?: number): Array<{ fn: string; pct: number }>;
export function profileText(entries: Array<{ fn: string; pct: number }>, n?: number): string;
