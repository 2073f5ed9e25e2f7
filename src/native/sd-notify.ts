// systemd readiness notifications (Type=notify): READY=1 once serving, RELOADING=1 with
// MONOTONIC_USEC while a reload runs (then READY=1 again), STOPPING=1 on shutdown. The
// datagram is written by the addon (native/notify.c). Without $NOTIFY_SOCKET (not run by
// systemd) every call does nothing.
import { loadAddon } from './addon.js';

export type NotifyState = 'ready' | 'reloading' | 'stopping';

/** The sd_notify text for a state; RELOADING carries CLOCK_MONOTONIC µs as systemd asks. */
export function notifyText(state: NotifyState, monotonicUsec: () => number): string {
  if (state === 'ready') return 'READY=1\nSTATUS=serving\n';
  if (state === 'reloading') return `RELOADING=1\nMONOTONIC_USEC=${Math.round(monotonicUsec())}\nSTATUS=reloading the config\n`;
  return 'STOPPING=1\nSTATUS=undoing host changes\n';
}

/**
 * Tells the service manager about `state`. Returns false when there is no $NOTIFY_SOCKET;
 * throws (with errno's code) when the datagram cannot be sent: the caller logs it.
 */
export function sdNotify(state: NotifyState, env: NodeJS.ProcessEnv = process.env): boolean {
  const socket = env.NOTIFY_SOCKET;
  if (socket === undefined || socket === '') return false;
  const addon = loadAddon();
  addon.sdNotify(socket, notifyText(state, () => addon.monotonicUsec()));
  return true;
}

/** sdNotify for daemons: a failure is logged as a warning, never thrown (systemd then times out and says so). */
export function notifyServiceManager(state: NotifyState, log?: { warn(o: object, m: string): void }): void {
  try {
    sdNotify(state);
  } catch (err) {
    log?.warn({ err: (err as Error).message, state }, 'cannot notify the service manager');
  }
}
