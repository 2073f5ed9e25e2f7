// Thread entry of one vstun-director queue worker (started by src/director/queue-threads.ts): wraps its TAP queue fd,
// builds its own Director (registry, connection table, data path, sweep and estimator
// timers) and hands the main thread's messages to a QueueWorkerCore. The data path starts
// once the first projection of the services has been applied.
import { parentPort, workerData } from 'node:worker_threads';
import type { ServiceKey } from '../control/admin-model.js';
import { explainFlow } from '../control/flow-explainer.js';
import { TunTapDevice } from '../device/native-tap-device.js';
import { Director } from '../director/director.js';
import { NeighborMemory } from '../director/neighbor-resolver.js';
import { QueueWorkerCore, type CorePort } from '../director/queue-worker-core.js';
import type { QueueWorkerData } from '../director/queue-threads.js';
import { publishLoopDelay } from '../metrics/event-loop-delay.js';
import { loadAddon } from '../native/addon.js';

const STATS_INTERVAL_MS = 250;

function main(): void {
  const data = workerData as QueueWorkerData;
  const port = parentPort as unknown as CorePort;
  const addon = loadAddon();
  const stopLoopDelay = data.loopDelay ? publishLoopDelay(data.loopDelay) : () => undefined;
  const device = TunTapDevice.fromFd(addon, data.tap, data.fd, 'tap', {}, data.queue, data.vnetHdrLen, data.offloadFlags);
  const director = new Director({
    device,
    mac: Uint8Array.from(data.mac),
    linkAddress: data.linkAddress,
    kernelAddress: data.kernelAddress,
    kernelMac: Uint8Array.from(data.kernelMac),
    readKernelMac: () => addon.linkGetMac(data.kernelLink),
    // The outer source of each server comes with the projection (RealServerProjection.dip).
    dipFor: () => 0,
    connTableCapacity: data.connTableCapacity,
    mhTableSize: data.mhTableSize,
    icmpEcho: data.icmpEcho,
    sloppyTcp: data.sloppyTcp,
    // An ARP answer lands on one queue; what it teaches serves every queue.
    neighborMemory: NeighborMemory.attach(data.neighbors),
  });
  new QueueWorkerCore({
    director,
    port,
    queue: data.queue,
    queues: data.queues,
    device,
    statsIntervalMs: STATS_INTERVAL_MS,
    explain: (d, q) => ({ ...explainFlow(d, q.service as ServiceKey, q.client) }),
    onFirstApply: () => director.start(),
    onStop: () => {
      stopLoopDelay();
      director.stop();
    },
  });
}

main();
