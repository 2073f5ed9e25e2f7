// Builds the checker for one real server from its resolved spec.
import type { Checker } from './check-result.js';
import { AllOfChecker } from './checkers/all-of.js';
import { DnsChecker } from './checkers/dns.js';
import { ExecChecker } from './checkers/exec.js';
import { HttpChecker } from './checkers/http.js';
import { PingChecker } from './checkers/ping.js';
import { SmtpChecker } from './checkers/smtp.js';
import { TcpChecker } from './checkers/tcp.js';
import { TunnelChecker, type TunnelProber } from './checkers/tunnel.js';
import { UdpChecker } from './checkers/udp.js';
import { HealthError } from './health-error.js';
import type { ResolvedCheck } from './resolved-check.js';

export interface CheckTarget {
  serviceId: string;
  rsId: string;
  rsAddress: string;
  vip: string;
  vipPort: number;
}

/** Makes a Checker; the manager takes one of these so tests can script results. */
export type CheckerFactory = (spec: ResolvedCheck, target: CheckTarget) => Checker;

/**
 * The production factory. `tunnelProber` is the director's PinnedFlowProber; without it a
 * tunnel check is a configuration error (HEALTH_NO_TUNNEL_PROBER).
 */
export function makeCheckerFactory(tunnelProber?: TunnelProber): CheckerFactory {
  return (spec, t) => {
    const host = spec.host ?? t.rsAddress;
    switch (spec.kind) {
      case 'tcp':
        return new TcpChecker({ host, port: spec.port, bindAddress: spec.bindAddress });
      case 'http':
      case 'https':
        return new HttpChecker({
          tls: spec.kind === 'https',
          host,
          port: spec.port,
          path: spec.path,
          virtualHost: spec.virtualHost,
          expectStatus: spec.expectStatus,
          bodyPattern: spec.bodyPattern,
          verifyTls: spec.verifyTls,
          bindAddress: spec.bindAddress,
        });
      case 'udp':
        return new UdpChecker({ host, port: spec.port, payload: spec.payload, expectPattern: spec.expectPattern, bindAddress: spec.bindAddress });
      case 'exec':
        return new ExecChecker({
          command: spec.script as string,
          args: spec.args,
          shell: spec.shell,
          env: spec.env,
          rsAddress: t.rsAddress,
          rsPort: spec.port,
          vip: t.vip,
          vipPort: t.vipPort,
        });
      case 'tunnel':
        if (tunnelProber === undefined) {
          throw new HealthError(
            'HEALTH_NO_TUNNEL_PROBER',
            `service ${t.serviceId}, server ${t.rsId}: a tunnel health check needs a probe source address in the director config`,
          );
        }
        return new TunnelChecker(
          { rsId: t.rsId, rsAddress: t.rsAddress, vip: t.vip, port: spec.port, proto: spec.proto, payload: spec.payload, expectPattern: spec.expectPattern },
          tunnelProber,
        );
      case 'dns':
        return new DnsChecker({ host, port: spec.port, name: spec.dnsName, type: spec.dnsType, bindAddress: spec.bindAddress });
      case 'ping':
        return new PingChecker({ host, bindAddress: spec.bindAddress }, spec.timeoutMs / 1000);
      case 'smtp':
        return new SmtpChecker({ host, port: spec.port, heloName: spec.heloName, bindAddress: spec.bindAddress });
    }
  };
}

/** One checker for all of a server's checks: the single one, or an AllOfChecker over several. */
export function makeServerChecker(factory: CheckerFactory, specs: readonly ResolvedCheck[], target: CheckTarget): Checker {
  if (specs.length === 1) return factory(specs[0], target);
  return new AllOfChecker(specs.map((spec) => ({ checker: factory(spec, target), timeoutMs: spec.timeoutMs })));
}
