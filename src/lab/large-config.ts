// A generated director.yaml of many services, for the large-config benchmarks
// (bench/large-config.mjs on the daemon, bench/control-stall.mjs in-process): S TCP services on
// port 80, each on its own VIP (10.100.0.0 upward), each with P real servers of weights 1..3.
export interface LargeConfigOptions {
  services: number;
  perService: number;
  /** Weight of every service's first real server (default 1): change it to make a reload change every service. */
  firstWeight?: number;
  /** director.dip (default 10.77.2.1). */
  dip?: string;
}

/** The VIP of service `s` (0-based): 10.100.0.0 + s, skipping nothing (up to 1.6 M services). */
export function largeConfigVip(s: number): string {
  return `10.${100 + (s >> 16)}.${(s >> 8) & 255}.${s & 255}`;
}

export function largeConfigYaml(opts: LargeConfigOptions): string {
  const out = ['director:', `  dip: ${opts.dip ?? '10.77.2.1'}`, 'services:'];
  for (let s = 0; s < opts.services; s++) {
    out.push('  - protocol: tcp', `    vip: ${largeConfigVip(s)}`, '    port: 80', '    scheduler: wrr', '    realServers:');
    for (let r = 0; r < opts.perService; r++) out.push(`      - { address: 10.250.${r}.${(s % 250) + 1}, weight: ${r === 0 ? (opts.firstWeight ?? 1) : 1 + (r % 3)} }`);
  }
  return out.join('\n') + '\n';
}
