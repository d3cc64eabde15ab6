/**
 * Journeys in the running daemon: for each service that has some, a
 * {@link JourneyRunner} whose targets follow the service's deployment, and a
 * feed that hands every step's two outcomes to the judge through the same
 * pairing and aggregation as mirrored requests.
 *
 * | phase      | primary arm (compared with)                       | candidate arm (mirror target) |
 * |------------|---------------------------------------------------|-------------------------------|
 * | shadowing  | the stable version, or its baseline pool if any   | the candidate                 |
 * | baking     | the new version (now serving)                     | the previous version          |
 *
 * the same arms as mirrored copies in each phase, so the judging loop reads
 * them alike (it swaps the arms while baking). Other phases, and a paused
 * deployment, run no journey. Requests go straight to a pool's endpoints (the
 * provisioner's), never through the proxies.
 *
 * Journeys are not user traffic: their records go to a pairer of their own
 * (same code, its own counters, so /metrics and the filters' statistics never
 * count them) that feeds the shared aggregator, under their own endpoints
 * `synthetic:<journey>/<step>`.
 */
import type { Aggregator } from '../aggregate/aggregator.js';
import type { SeriesRegistry } from '../aggregate/series.js';
import type { ServiceConfig } from '../config/schema.js';
import { logger } from '../log.js';
import { type ArmRecord, Pairer } from '../pairing/pairer.js';
import type { PoolRef, Provisioner } from '../provision/provisioner.js';
import type { DeploymentState } from '../rollout/types.js';
import { compileJourney, type Journey, syntheticEndpoint } from '../synthetic/journey.js';
import type { ArmOutcome } from '../synthetic/records.js';
import { syntheticRequestId } from '../synthetic/records.js';
import type { StepPair, Target } from '../synthetic/run.js';
import {
  JourneyRunner,
  type JourneySink,
  type JourneyStatus,
  type JourneyTargets,
} from '../synthetic/runner.js';
import { hashRequestId, lastIdH2 } from '../telemetry/decode.js';
import { ARM_CANDIDATE, ARM_PRIMARY } from '../wire/record-contract.js';

const log = logger('journeys');

/**
 * Each journey step's share of the whole false-alarm budget: the service's
 * `judge.syntheticShare`, split between journeys by weight, then evenly
 * between a journey's steps. Fixed by configuration, before any outcome.
 */
export function syntheticWeights(cfg: ServiceConfig): Record<string, number> {
  const out: Record<string, number> = {};
  const total = cfg.journeys.reduce((w, j) => w + j.weight, 0);
  if (!(total > 0)) return out;
  for (const j of cfg.journeys) {
    for (const s of j.steps) {
      out[syntheticEndpoint(j.name, s.name)] = (cfg.judge.syntheticShare * j.weight) / total / j.steps.length;
    }
  }
  return out;
}

/** The compiled journeys of a service (its configuration was checked at load: a failure here is a bug). */
export function serviceJourneys(cfg: ServiceConfig): Journey[] {
  return cfg.journeys.map((j) => {
    const c = compileJourney(j);
    if ('issues' in c) throw new Error(`journey ${j.name} passed config check but does not compile`);
    return c.journey;
  });
}

/** Where each arm's requests go in this phase; undefined when the phase runs no journey. */
export function journeyPools(
  d: DeploymentState | undefined,
): { primary: PoolRef; candidate: PoolRef } | undefined {
  if (!d || d.paused) return undefined;
  if (d.phase === 'shadowing') {
    return {
      primary: { version: d.previousVersion, pool: d.plan.baseline ? 'baseline' : 'main' },
      candidate: { version: d.version, pool: 'main' },
    };
  }
  if (d.phase === 'baking') {
    return {
      primary: { version: d.version, pool: 'main' },
      candidate: { version: d.previousVersion, pool: 'main' },
    };
  }
  return undefined;
}

/** Feeds a service's step outcomes into the shared aggregator through a pairer of the journeys' own. */
export class JourneyFeed implements JourneySink {
  readonly pairer: Pairer;
  readonly #rec: ArmRecord = {
    series: 0,
    h1: 0,
    h2: 0,
    arm: 0,
    startUs: 0,
    latencyUs: 0,
    status: 0,
    flags: 0,
    hashLo: 0,
    hashHi: 0,
    idBuf: new Uint8Array(0),
    idOff: 0,
    idLen: 0,
  };

  constructor(
    readonly service: string,
    readonly registry: SeriesRegistry,
    readonly aggregator: Aggregator,
    readonly nowUs: () => number,
  ) {
    // Both arms arrive together: the TTL only bounds how long a finished pair is remembered.
    this.pairer = new Pairer(aggregator, { ttlUs: 1_000_000, maxInFlight: 4096, idBytesKept: 96 });
  }

  stepStarting(startUs: number): void {
    // The step's second stays open until its outcomes are in (at most the aggregator's close bound).
    this.aggregator.onPending(startUs, 1);
  }

  stepEnded(startUs: number): void {
    this.aggregator.onPending(startUs, -1);
  }

  pair(journey: Journey, run: number, pair: StepPair): void {
    const series = this.registry.series(this.service, syntheticEndpoint(journey.name, pair.step), '');
    if (series < 0) {
      log.warn('journey step not judged: series limit reached', {
        service: this.service,
        journey: journey.name,
      });
      return;
    }
    const id = syntheticRequestId(journey.name, pair.step, run);
    const now = this.nowUs();
    this.pairer.advance(now);
    const r = this.#rec;
    r.series = series;
    r.h1 = hashRequestId(id);
    r.h2 = lastIdH2;
    r.startUs = pair.startUs;
    r.idBuf = id;
    r.idOff = 0;
    r.idLen = id.length;
    this.#add(ARM_PRIMARY, pair.primary, now);
    this.#add(ARM_CANDIDATE, pair.candidate, now);
  }

  #add(arm: number, o: ArmOutcome, now: number): void {
    const r = this.#rec;
    r.arm = arm;
    r.latencyUs = o.latencyUs;
    r.status = o.status;
    r.flags = o.flags;
    r.hashLo = o.hashLo;
    r.hashHi = o.hashHi;
    this.pairer.add(r, now);
  }
}

export interface JourneyLoopOptions {
  services: ServiceConfig[];
  provisioners: ReadonlyMap<string, Provisioner>;
  latest(service: string): DeploymentState | undefined;
  registry: SeriesRegistry;
  aggregator: Aggregator;
  /** Unix µs. */
  nowUs: () => number;
}

/** Every service's journeys, started and stopped with the controller. */
export class JourneyLoop {
  readonly #runners = new Map<string, JourneyRunner>();

  constructor(o: JourneyLoopOptions) {
    for (const cfg of o.services) {
      if (cfg.journeys.length === 0) continue;
      const provisioner = o.provisioners.get(cfg.name);
      if (!provisioner) continue;
      let turn = 0;
      const targets = (): JourneyTargets | undefined => {
        const d = o.latest(cfg.name);
        const pools = journeyPools(d);
        if (!d || !pools) return undefined;
        turn += 1;
        const primary = pick(provisioner, pools.primary, turn);
        const candidate = pick(provisioner, pools.candidate, turn);
        if (!primary || !candidate) return undefined;
        return { primary, candidate, key: `${d.id}:${d.phase}` };
      };
      const feed = new JourneyFeed(cfg.name, o.registry, o.aggregator, o.nowUs);
      this.#runners.set(
        cfg.name,
        new JourneyRunner({ journeys: serviceJourneys(cfg), targets, sink: feed, nowUs: o.nowUs }),
      );
    }
  }

  start(): void {
    for (const r of this.#runners.values()) r.start();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#runners.values()].map((r) => r.stop()));
  }

  /** A service's journeys with their last results (empty without journeys). */
  status(service: string): JourneyStatus[] {
    return this.#runners.get(service)?.status() ?? [];
  }
}

/** One healthy endpoint of the pool, in turn; undefined when it has none. */
function pick(p: Provisioner, ref: PoolRef, turn: number): Target | undefined {
  const eps = p.endpoints(ref);
  if (eps.length === 0) return undefined;
  const e = eps[turn % eps.length]!;
  return { host: e.host, port: e.port, version: ref.version };
}
