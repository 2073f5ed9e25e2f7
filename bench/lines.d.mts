// Types of bench/lines.mjs, for the unit tests (test/unit/bench-lines.test.ts).
export interface Target {
  on: 'ratio' | 'value';
  op: '>=' | '<=' | '<';
  bound: number;
  text: string;
}
export interface Line {
  id: string;
  what: string;
  value: number | string | null;
  unit: string | null;
  reference: { what: string; value: number | null } | null;
  ratio: number | null;
  target: Target | null;
  met: boolean | null;
  note: string | null;
}
export const SECTIONS: string[];
export function line(l: { id: string; what: string; value?: number | string | null; unit?: string | null; reference?: { what: string; value: number | null } | null; ratio?: number | null; target?: Target | null; note?: string | null }): Line;
export function sig3(x: number | null, target?: Target | null): string;
export function figure(v: number | string | null, unit: string | null, target?: Target | null): string;
export function formatTable(results: Record<string, any>): string;
