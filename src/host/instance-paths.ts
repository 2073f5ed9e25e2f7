// Default paths of the run-time files (control socket, state files), one set per network
// namespace, so that several directors and agents on one host (one per namespace) never
// share a file by default. The scheme:
//   root namespace (the one PID 1 is in; see currentNetns): /run/vstun/…  (as ever)
//   a namespace named by `ip netns add NAME` (bind-mounted at /run/netns/NAME): /run/vstun/netns/NAME/…
//   any other namespace: /run/vstun/netns/inode-N/…  (N: the namespace's inode, as in /proc/self/ns/net)
// vstunadm derives its default --control by the same rule, so run in the director's
// namespace (`ip netns exec NAME vstunadm -L`) it finds that director.
import { readdirSync, readlinkSync, rmdirSync, statSync } from 'node:fs';
import path from 'node:path';

export const RUN_DIR = '/run/vstun';
const NETNS_DIR = '/run/netns';

/** Which network namespace this process is in, as far as the file paths are concerned. */
export interface NetnsIdentity {
  root: boolean;
  /** The namespace's name under /run/netns, else `inode-N`; '' for the root namespace. */
  key: string;
}

/** The file-system reads currentNetns makes (injectable for tests); each may throw. */
export interface NetnsProbe {
  readlink(p: string): string;
  inode(p: string): number;
  list(dir: string): string[];
}

const realProbe: NetnsProbe = { readlink: readlinkSync, inode: (p) => statSync(p).ino, list: readdirSync };

/** The initial network namespace's fixed inode (PROC_NET_INIT_INO) on current kernels. */
const INIT_NET_INODE = 0xeffffff9;

/**
 * Reads this process's network namespace. Root when it is PID 1's (or, where PID 1's
 * cannot be read, e.g. in a restricted container, when it has the initial namespace's
 * inode); when even our own cannot be read, the root namespace is assumed. Never throws.
 */
export function currentNetns(probe: NetnsProbe = realProbe): NetnsIdentity {
  let self: string;
  let ino: number;
  try {
    self = probe.readlink('/proc/self/ns/net');
    ino = probe.inode('/proc/self/ns/net');
  } catch {
    return { root: true, key: '' };
  }
  let pid1: string | null = null;
  try {
    pid1 = probe.readlink('/proc/1/ns/net');
  } catch {
    /* not visible to us */
  }
  if (pid1 === null ? ino === INIT_NET_INODE : pid1 === self) return { root: true, key: '' };
  try {
    for (const name of probe.list(NETNS_DIR)) {
      try {
        if (probe.inode(path.join(NETNS_DIR, name)) === ino) return { root: false, key: name };
      } catch {
        /* a name whose namespace is gone */
      }
    }
  } catch {
    /* no named namespaces */
  }
  return { root: false, key: `inode-${ino}` };
}

/** The directory for this namespace's run-time files. */
export function runDir(ns: NetnsIdentity = currentNetns()): string {
  return ns.root ? RUN_DIR : path.join(RUN_DIR, 'netns', ns.key);
}

/** At exit: removes this namespace's directory when nothing is left in it (never the root one). */
export function removeRunDirIfEmpty(ns: NetnsIdentity = currentNetns()): void {
  if (ns.root) return;
  try {
    rmdirSync(runDir(ns));
  } catch {
    /* another instance's files are still there, or it is gone already */
  }
}

/** The director's control socket (vstun-director --control, vstunadm --control). */
export function defaultControlPath(ns?: NetnsIdentity): string {
  return path.join(runDir(ns), 'director.sock');
}

/** The director's undo records for its TAP (vstun-director --state-file). */
export function defaultDirectorStateFile(tap: string, ns?: NetnsIdentity): string {
  return path.join(runDir(ns), `director-${tap}.state.json`);
}

/** The agent's undo records (vstun-agent --state-file). */
export function defaultAgentStateFile(ns?: NetnsIdentity): string {
  return path.join(runDir(ns), 'agent.state.json');
}
