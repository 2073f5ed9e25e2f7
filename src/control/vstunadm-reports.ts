// vstunadm's own reports on the director's `status`, `health`, `pmtu` and `queues` control ops, as
// text tables (or the op's JSON with --json). The shapes are read defensively: a field a
// director does not send prints as "-", never as a crash.

type Row = Record<string, unknown>;

const text = (v: unknown): string => (v === undefined || v === null || v === '' ? '-' : String(v));

/** Left-aligned columns, two spaces apart. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** vstunadm status: the daemon, its uptime, listeners, table and frame counts. */
export function formatStatus(res: Row): string {
  const table = (res.connTable ?? {}) as Row;
  const verdicts = (res.verdicts ?? {}) as Record<string, number>;
  const drops = Object.entries(verdicts)
    .filter(([k, v]) => k.startsWith('drop-') && v > 0)
    .map(([k, v]) => `${k.slice(5)} ${v}`);
  const t = (res.timeouts ?? {}) as Row;
  return [
    `${text(res.daemon)} pid ${text(res.pid)}, up ${text(res.uptimeS)} s (since ${text(res.startedAt)})`,
    `config:      ${text(res.config)}`,
    `tap:         ${text(res.tap)}${res.kernelMacKnown === false ? ' (kernel MAC not learned yet)' : ''}`,
    `metrics:     ${text(res.metrics)}`,
    `services:    ${text(res.services)}`,
    `conn table:  ${text(table.entries)}/${text(table.capacity)} entries`,
    `frames in:   ${text(res.framesIn)}`,
    `drops:       ${drops.length ? drops.join(', ') : 'none'}`,
    `timeouts:    tcp ${text(t.tcp)} tcpfin ${text(t.tcpfin)} udp ${text(t.udp)}`,
    '',
  ].join('\n');
}

/** vstunadm health: one row per health-checked real server. */
export function formatHealth(res: Row): string {
  const services = (res.services ?? []) as Row[];
  if (services.length === 0) return 'no service has a health check\n';
  const rows: string[][] = [];
  for (const svc of services) {
    for (const s of (svc.servers ?? []) as Row[]) {
      const last = s.lastCheck as Row | undefined;
      rows.push([
        text(svc.serviceId),
        text(s.rsId),
        text(s.kind),
        text(s.state),
        `${text(s.effectiveWeight)}/${text(s.configuredWeight)}`,
        last ? `${last.ok ? 'ok' : 'fail'} ${text(last.detail)}` : '-',
      ]);
    }
    if (svc.sorryActive === true) rows.push([text(svc.serviceId), '(sorry server)', '-', 'active', '-', 'quorum lost']);
  }
  return table(['Service', 'Server', 'Check', 'State', 'Weight(eff/cfg)', 'Last check'], rows);
}

/** vstunadm pmtu: the tunnel MTU per real server and what path MTU discovery learned. */
export function formatPmtu(res: Row): string {
  const paths = (res.paths ?? []) as Row[];
  const rows = paths.map((p) => [text(p.address), text(p.configuredMtu), p.pathMtu ? text(p.pathMtu) : '-', text(p.effectiveMtu), text(p.fragNeededReports), text(p.probesSent), p.confirmedMtu ? text(p.confirmedMtu) : '-']);
  const head = table(['Server', 'Configured', 'Path', 'Effective', 'FragNeeded', 'Probes', 'Confirmed'], rows);
  return `${head}ICMP seen ${text(res.icmpSeen)}, frag-needed accepted ${text(res.fragNeededAccepted)}, ignored ${text(res.fragNeededIgnored)}\n`;
}

/**
 * vstunadm --queues: per TAP queue the frames read, forwarded and connection entries, then
 * each real server's connections and packets in per queue (whether the kernel spreads the load).
 */
export function formatQueues(res: Row): string {
  const queues = (res.queues ?? []) as Row[];
  if (queues.length === 0) return 'no queue reported\n';
  const head = table(
    ['Queue', 'FramesIn', 'Forwarded', 'Conns'],
    queues.map((q) => [text(q.queue), text(q.framesIn), text(q.forwarded), text(q.connections)]),
  );
  const names = [...new Set(queues.flatMap((q) => Object.keys((q.servers ?? {}) as Row)))];
  if (names.length === 0) return head;
  const rows = names.map((name) => {
    const cut = name.lastIndexOf(' ');
    const counts = queues.map((q) => {
      const c = ((q.servers ?? {}) as Record<string, Row | undefined>)[name];
      return c === undefined ? '-' : `${text(c.conns)}/${text(c.inPkts)}`;
    });
    return [name.slice(0, cut), name.slice(cut + 1), ...counts];
  });
  return `${head}\n${table(['Service', 'Server', ...queues.map((q) => `Q${text(q.queue)} Conns/InPkts`)], rows)}`;
}

/** The report subcommands: word → control op and formatter (`--queues` is the `queues` report). */
export const REPORTS: Record<string, (res: Row) => string> = { status: formatStatus, health: formatHealth, pmtu: formatPmtu, queues: formatQueues };
