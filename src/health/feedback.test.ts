import { describe, expect, it } from 'vitest';
import { feedbackScore, feedbackWeight, FeedbackTracker, parseAgentFeedback, smoothScore } from './feedback.js';

describe('feedback arithmetic', () => {
  it.each([
    { description: 'idle box', f: { load1: 0.1, cpuIdlePercent: 100, cpus: 4 }, score: 1 },
    { description: 'half busy, load under CPUs', f: { load1: 2, cpuIdlePercent: 50, cpus: 4 }, score: 0.5 },
    { description: 'load exactly at CPUs', f: { load1: 4, cpuIdlePercent: 40, cpus: 4 }, score: 0.4 },
    { description: 'overloaded: load 8 on 4 CPUs halves it', f: { load1: 8, cpuIdlePercent: 20, cpus: 4 }, score: 0.1 },
    { description: 'saturated', f: { load1: 12, cpuIdlePercent: 0, cpus: 2 }, score: 0 },
    { description: 'idle clamped to 100', f: { load1: 0, cpuIdlePercent: 140, cpus: 1 }, score: 1 },
  ])('score: $description', ({ f, score }) => {
    expect(feedbackScore(f)).toBeCloseTo(score, 10);
  });

  it('smooths with an EWMA starting from 1', () => {
    expect(smoothScore(undefined, 0, 0.3)).toBeCloseTo(0.7, 10);
    expect(smoothScore(0.7, 0, 0.3)).toBeCloseTo(0.49, 10);
    expect(smoothScore(0.49, 1, 0.3)).toBeCloseTo(0.643, 10);
    expect(smoothScore(0.2, 0.9, 1)).toBeCloseTo(0.9, 10);
  });

  it('derives the weight from the configured weight, clamped to [min, max]', () => {
    expect(feedbackWeight(100, 0.5)).toBe(50);
    expect(feedbackWeight(100, 0.004)).toBe(1); // minWeight default 1
    expect(feedbackWeight(100, 0.2, { minWeight: 30 })).toBe(30);
    expect(feedbackWeight(100, 0.9, { maxWeight: 60 })).toBe(60);
    expect(feedbackWeight(100, 1.7)).toBe(100); // a score above 1 is clamped
    expect(feedbackWeight(0, 1)).toBe(0); // operator quiesce wins
    expect(feedbackWeight(10, 0, { minWeight: 20 })).toBe(10); // min above max: max wins
  });
});

describe('FeedbackTracker', () => {
  const options = { intervalMs: 5000, staleAfterIntervals: 3, alpha: 0.5 };
  const busy = { load1: 1, cpuIdlePercent: 20, cpus: 1 }; // score 0.2

  it('falls back to the configured weight with no feedback', () => {
    const t = new FeedbackTracker(options);
    expect(t.isStale(0)).toBe(true);
    expect(t.effectiveWeight(80, 0)).toBe(80);
  });

  it('one bad sample moves the weight only alpha of the way', () => {
    const t = new FeedbackTracker(options);
    t.record(busy, 0);
    expect(t.smoothedScore).toBeCloseTo(0.6, 10); // 0.5*0.2 + 0.5*1
    expect(t.effectiveWeight(100, 0)).toBe(60);
    t.record(busy, 5000);
    expect(t.effectiveWeight(100, 5000)).toBe(40); // 0.5*0.2 + 0.5*0.6
    t.record(busy, 10_000);
    expect(t.effectiveWeight(100, 10_000)).toBe(30);
  });

  it('goes stale after staleAfter intervals and falls back to the configured weight', () => {
    const t = new FeedbackTracker(options);
    t.record(busy, 0);
    expect(t.effectiveWeight(100, 15_000)).toBe(60); // exactly 3 intervals: still fresh
    expect(t.isStale(15_001)).toBe(true);
    expect(t.effectiveWeight(100, 15_001)).toBe(100);
  });

  it('restarts the EWMA from 1 when feedback resumes after staleness', () => {
    const t = new FeedbackTracker(options);
    t.record(busy, 0);
    t.record(busy, 5000);
    expect(t.smoothedScore).toBeCloseTo(0.4, 10);
    t.record(busy, 100_000);
    expect(t.smoothedScore).toBeCloseTo(0.6, 10);
  });
});

describe('parseAgentFeedback', () => {
  it('reads the vstun-agent document', () => {
    const doc = {
      loadAverage: { '1m': 3, '5m': 2, '15m': 1 },
      cpuIdlePercent: 37.5,
      cpus: 2,
      establishedConnections: { '10.0.0.1': 4 },
      establishedTotal: 4,
    };
    expect(parseAgentFeedback(doc)).toEqual({ load1: 3, cpuIdlePercent: 37.5, cpus: 2, established: 4 });
  });

  it('treats a null idle figure (first agent reading) as 100 %', () => {
    expect(parseAgentFeedback({ loadAverage: { '1m': 0.5 }, cpuIdlePercent: null, cpus: 1 })).toEqual({ load1: 0.5, cpuIdlePercent: 100, cpus: 1 });
  });

  it('accepts other spellings', () => {
    expect(parseAgentFeedback({ loadavg: [1.5, 1, 1], idle: 90, ncpu: 8 })).toEqual({ load1: 1.5, cpuIdlePercent: 90, cpus: 8 });
    expect(parseAgentFeedback({ load1: 0, cpuIdle: 50 })).toEqual({ load1: 0, cpuIdlePercent: 50, cpus: 1 });
  });

  it.each([null, 3, 'x', {}, { cpuIdlePercent: 50 }, { load1: -1, cpuIdle: 3 }, { load1: 'high' }])('rejects %j', (doc) => {
    expect(parseAgentFeedback(doc)).toBeNull();
  });
});
