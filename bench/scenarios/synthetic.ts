/**
 * bench:judge's journey scenarios: a regression on an endpoint real traffic
 * never reaches, covered by a journey every 5 s, and the same service with
 * a healthy journey (A/A). Real traffic (the suite's A/A generator, both
 * arms alike) goes through `umbra replay`'s path: JSON lines → ingest →
 * pairing → aggregation. The journey's step outcomes go through the
 * daemon's own feed (daemon/controller/journeys.ts: its own pairer, the
 * same aggregator), all in virtual time; the judge gets the journey weights
 * the daemon gives it (from a parsed umbra.yaml). Time to detect runs from
 * the onset to the emission of the rollback verdict.
 */
import { parseConfig } from '../../daemon/config/load.js';
import type { ServiceConfig } from '../../daemon/config/schema.js';
import { JourneyFeed, serviceJourneys, syntheticWeights } from '../../daemon/controller/journeys.js';
import type { Model } from '../../daemon/model/model.js';
import { JsonLinesSource } from '../../daemon/replay/jsonl.js';
import { judgeHook } from '../../daemon/replay/judge-hook.js';
import { syntheticEndpoint } from '../../daemon/synthetic/journey.js';
import type { ArmOutcome } from '../../daemon/synthetic/records.js';
import { ASSERTION_FAILED_STATUS } from '../../daemon/synthetic/records.js';
import {
  createPipeline,
  DEFAULT_MIRROR_TIMEOUT_MS,
  pipelineTiming,
} from '../../daemon/telemetry/pipeline.js';
import { generate, makeScenario, type ServiceProfile, toJsonLines } from './generator.js';
import { rng } from './rng.js';
import type { RunScore } from './scorecard.js';

/** The journey runs every this many seconds. */
export const JOURNEY_EVERY_S = 5;
/** The regression starts here (after the judge's warm-up). */
const ONSET_S = 30;
const DURATION_S = 120;
/** Real traffic: thin, as where journeys matter (mirrored requests per second). */
const REAL_RPS = 10;
const JOURNEY_ENDPOINT = syntheticEndpoint('checkout', 'pay');

/** The service's umbra.yaml entry with its journey, parsed as the daemon parses it. */
function serviceWithJourney(service: string): ServiceConfig {
  const r = parseConfig(
    [
      'services:',
      `  - name: ${service}`,
      '    stable: v1',
      '    provisioner: { kind: static, versions: { v1: { endpoints: ["127.0.0.1:9001"] } } }',
      '    journeys:',
      '      - name: checkout',
      `        every: ${JOURNEY_EVERY_S}s`,
      '        steps:',
      '          - { name: pay, path: /pay, expect: { body: { "$.paid": true } } }',
    ].join('\n'),
  );
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.config.services[0]!;
}

/** One arm's outcome of the journey's step: a few ms; failed when `broken`. */
function outcome(r: () => number, broken: boolean): ArmOutcome {
  return {
    status: broken ? ASSERTION_FAILED_STATUS : 200,
    flags: 0,
    latencyUs: Math.round(4000 * Math.exp(0.3 * (r() + r() + r() - 1.5))),
    hashLo: broken ? 2 : 1,
    hashHi: 0,
    failures: broken ? ['$.paid is false, expected true'] : [],
  };
}

/** One run: real A/A traffic at REAL_RPS plus the journey; the candidate's step broken from ONSET_S when `regressed`. */
export function runJourneyScenario(
  profile: ServiceProfile,
  seed: number,
  threshold: number,
  model: Model | undefined,
  regressed: boolean,
): RunScore {
  const s = makeScenario('aa', profile, REAL_RPS, seed);
  s.durationS = DURATION_S;
  const lines = toJsonLines(generate(s)).split('\n');
  const cfg = serviceWithJourney(profile.service);
  const journey = serviceJourneys(cfg)[0]!;
  const p = createPipeline(pipelineTiming(DEFAULT_MIRROR_TIMEOUT_MS));
  const hook = judgeHook({
    params: { anomalyThreshold: threshold, synthetic: syntheticWeights(cfg) },
    ...(model ? { model } : {}),
  });
  let clock = 0;
  let origin = Number.NaN;
  let rollback: { atS: number; culprits: string[] } | null = null;
  p.aggregator.onSecond((cells, _second, nowUs) => {
    for (const v of hook(cells, nowUs)) {
      if (rollback || v.verdict !== 'rollback') continue;
      rollback = { atS: (nowUs - origin) / 1e6, culprits: v.culprits.map((c) => c.endpoint) };
    }
  });
  const feed = new JourneyFeed(profile.service, p.registry, p.aggregator, () => clock);
  const r = rng(seed ^ 0x5bd1e995);
  const src = new JsonLinesSource();
  let nextRun = Number.NaN;
  let run = 0;
  /** Journey runs due by `untilUs` (each a step sent to both arms, its outcomes a few ms later). */
  const journeysUntil = (untilUs: number): void => {
    while (nextRun <= untilUs) {
      const start = nextRun;
      run += 1;
      const broken = regressed && start - origin >= ONSET_S * 1e6;
      const pair = { step: 'pay', startUs: start, primary: outcome(r, false), candidate: outcome(r, broken) };
      clock = Math.max(clock, start);
      p.ingest.advance(clock);
      feed.stepStarting(start);
      clock = Math.max(clock, start + Math.max(pair.primary.latencyUs, pair.candidate.latencyUs));
      p.ingest.advance(clock);
      feed.pair(journey, run, pair);
      feed.stepEnded(start);
      nextRun += JOURNEY_EVERY_S * 1e6;
    }
  };
  for (const text of lines) {
    const b = src.line(text);
    if (b === null || typeof b === 'string') continue;
    if (Number.isNaN(origin)) {
      origin = b.arrivalUs;
      nextRun = origin + JOURNEY_EVERY_S * 1e6;
    }
    journeysUntil(b.arrivalUs);
    clock = Math.max(clock, b.arrivalUs);
    if (b.opensStream) p.ingest.openStream(b.streamId);
    p.ingest.onBatch(b.streamId, b.bytes, clock);
  }
  // As `umbra replay` ends: the clock runs on until every second has closed.
  const endUs = clock + 60e6;
  p.ingest.advance(endUs);
  feed.pairer.flush();
  p.pairer.flush();
  p.aggregator.flush(endUs);
  const seen = rollback as { atS: number; culprits: string[] } | null;
  const detected = regressed && seen !== null && seen.atS >= ONSET_S;
  return {
    kind: regressed ? 'journey_only_regression' : 'journey_aa',
    rps: REAL_RPS,
    detected,
    falseAlarm: seen !== null && !detected,
    secondsToDetect: detected ? seen.atS - ONSET_S : null,
    culpritRight: detected && seen.culprits.length > 0 && seen.culprits.every((c) => c === JOURNEY_ENDPOINT),
  };
}
