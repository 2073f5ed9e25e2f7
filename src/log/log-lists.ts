// Lists in log lines, cut short: a reload that changes 10 000 services, or a host set up with
// a route per VIP, must not make one log line of a megabyte. Such a line is more than the log
// sink holds for a slow reader (src/log/log-sink.ts), so it was dropped whole, and the
// operator never saw that the reload happened. The full lists stay available where they are
// asked for (the control socket's `reload` op, vstunadm).

/** Lines of this many list entries at most, per list. */
export const LOG_LIST_LIMIT = 20;

/** The first `limit` entries, then "… and N more" when there were more. */
export function capList<T>(list: readonly T[], limit = LOG_LIST_LIMIT): Array<T | string> {
  return list.length <= limit ? [...list] : [...list.slice(0, limit), `… and ${list.length - limit} more`];
}

/** A shallow copy of `o` with every array field cut by capList. */
export function capLists<T extends object>(o: T, limit = LOG_LIST_LIMIT): { [K in keyof T]: T[K] extends readonly (infer E)[] ? Array<E | string> : T[K] } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = Array.isArray(v) ? capList(v, limit) : v;
  return out as { [K in keyof T]: T[K] extends readonly (infer E)[] ? Array<E | string> : T[K] };
}
