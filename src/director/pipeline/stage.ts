// What a stage returns: GO_ON to hand the record to the next stage, or the frame's verdict.
// (A const enum Verdict is a number; GO_ON is outside its range.)
import type { Verdict } from '../verdicts.js';

export const GO_ON = -1;
export type StageResult = Verdict | typeof GO_ON;

/** What classify found the packet needs; track and emit act on it. */
export const ACTION_CONNECTION = 0;
export const ACTION_LATER_FRAGMENT = 1;
export const ACTION_ICMP_ERROR = 2;
/** A tunnel health probe: its server is pinned, track has nothing to do. */
export const ACTION_PROBE = 3;
/** An echo request to a VIP: emit answers it. */
export const ACTION_ECHO = 4;
