// The health subsystem's public surface, for the director and vstunadm.
export type { Checker, CheckKind, CheckResult } from './check-result.js';
export { runCheck } from './check-result.js';
export type { Clock, TimerHandle } from './clock.js';
export { systemClock } from './clock.js';
export { Dampener, type DampenerOptions, type HealthState, type HealthTransition } from './dampener.js';
export { QuorumGate, type QuorumOptions } from './quorum.js';
export { slowStartWeight, isRamping, type SlowStartOptions } from './slow-start.js';
export { feedbackScore, smoothScore, feedbackWeight, parseAgentFeedback, FeedbackTracker, type AgentFeedback } from './feedback.js';
export { FeedbackPoller, fetchAgentFeedback, type FeedbackFetcher } from './feedback-poller.js';
export {
  CHECK_KINDS,
  DNS_QUERY_TYPES,
  ON_FAILURE_POLICIES,
  HEALTH_DEFAULTS,
  serviceHealthCheckSchema,
  serverHealthCheckSchema,
  sorryServerSchema,
  feedbackOverrideSchema,
  type OnFailurePolicy,
  type ServiceHealthCheckConfig,
  type ServiceHealthCheckInput,
  type ServerHealthCheckConfig,
} from './health-config.js';
export { HealthError, type HealthErrorCode } from './health-error.js';
export { resolveCheck, resolveFeedback, type ResolvedCheck, type ResolvedFeedback } from './resolved-check.js';
export { makeCheckerFactory, type CheckerFactory, type CheckTarget } from './checker-factory.js';
export {
  HealthManager,
  type HealthConsumer,
  type HealthEvent,
  type HealthManagerOptions,
  type ServerState,
  type SorryServerState,
  type ServiceDefinition,
  type ServerDefinition,
  type ServiceHealthSnapshot,
  type ServerHealthSnapshot,
} from './health-manager.js';
export { TcpChecker } from './checkers/tcp.js';
export { DnsChecker, encodeDnsQuery, judgeDnsReply } from './checkers/dns.js';
export { PingChecker } from './checkers/ping.js';
export { SmtpChecker } from './checkers/smtp.js';
export { AllOfChecker } from './checkers/all-of.js';
export { ProcessScriptRunner, type ScriptRunner, type ScriptOutcome } from './script-runner.js';
export { splitCommandLine } from './command-line.js';
export { HttpChecker } from './checkers/http.js';
export { UdpChecker } from './checkers/udp.js';
export { ExecChecker } from './checkers/exec.js';
export { TunnelChecker, type TunnelProber, type TunnelProbeRequest, type PinFlowHook, type ProbeFlow, type Unpin, type TunnelProto } from './checkers/tunnel.js';
export { PinnedFlowProber, type PinnedFlowProberOptions } from './checkers/pinned-flow-prober.js';
