// Scheduler factory by ipvsadm name.
import { WeightedFailoverScheduler, WeightedOverflowScheduler } from './failover.js';
import {
  LeastConnectionScheduler,
  NeverQueueScheduler,
  ShortestExpectedDelayScheduler,
  WeightedLeastConnectionScheduler,
} from './least-connection.js';
import { LocalityLeastConnectionScheduler, LocalityReplicatedScheduler } from './locality.js';
import { MaglevScheduler } from './maglev.js';
import { PowerOfTwoScheduler } from './power-of-two.js';
import { RoundRobinScheduler } from './round-robin.js';
import type { Scheduler, SchedulerName, SchedulerOptions } from './scheduler.js';
import { DestinationHashingScheduler, SourceHashingScheduler } from './source-hashing.js';
import { WeightedRoundRobinScheduler } from './weighted-round-robin.js';

export * from './scheduler.js';

export function createScheduler(name: SchedulerName, opts: SchedulerOptions): Scheduler {
  switch (name) {
    case 'rr':
      return new RoundRobinScheduler();
    case 'wrr':
      return new WeightedRoundRobinScheduler();
    case 'lc':
      return new LeastConnectionScheduler();
    case 'wlc':
      return new WeightedLeastConnectionScheduler();
    case 'sed':
      return new ShortestExpectedDelayScheduler();
    case 'nq':
      return new NeverQueueScheduler();
    case 'sh':
      return new SourceHashingScheduler(opts.flags);
    case 'dh':
      return new DestinationHashingScheduler();
    case 'lblc':
      return new LocalityLeastConnectionScheduler(opts.now);
    case 'lblcr':
      return new LocalityReplicatedScheduler(opts.now);
    case 'fo':
      return new WeightedFailoverScheduler();
    case 'ovf':
      return new WeightedOverflowScheduler();
    case 'mh':
      return new MaglevScheduler(opts.flags, opts.mhTableSize);
    case 'twos':
      return new PowerOfTwoScheduler(opts.random);
  }
}
