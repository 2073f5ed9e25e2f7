// Types of bench/readme.mjs, for the unit tests (test/unit/bench-lines.test.ts).
export function problems(results: Record<string, any>, changedSince: string[]): string[];
export function replaceBlock(readme: string, table: string): string;
