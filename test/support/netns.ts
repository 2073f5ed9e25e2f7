// Tests use the same namespace toolkit as the demo and the benchmark.
import { canRunNetnsTests as hostCanRunNetns, isRoot } from '../../src/lab/netns.js';

export * from '../../src/lab/netns.js';

/**
 * The e2e tests' gate: true when this process may create namespaces, TUN devices and raw
 * sockets. Outside CI, false skips the e2e suites (a developer who is not root). Under
 * CI=true it is never false: it throws, so each e2e file fails to collect and names the
 * reason, instead of CI passing with every end-to-end test skipped.
 */
export function canRunNetnsTests(): boolean {
  if (hostCanRunNetns()) return true;
  if (process.env.CI === 'true') {
    const why = isRoot() ? '`ip netns list` fails (iproute2 missing, or no network namespaces here)' : 'not root';
    throw new Error(`CI=true and the end-to-end tests cannot run: ${why}. CI must run them (as root, with iproute2), not skip them; unset CI to skip them locally.`);
  }
  return false;
}
