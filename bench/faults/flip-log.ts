/**
 * What the daemon and Envoy were doing when a user's request failed during a
 * scenario: a timeline of the service's status (phase, candidate weight, each
 * pool's ready instances, the weights the proxy ACKed), sampled every 100 ms
 * and kept when it changes, and Envoy's per-cluster failure counters before
 * and after. `explain` prints each failed request next to the timeline
 * entries around it.
 */
import type { LoadStats } from '../../demo/scenario.js';
import { SERVICE } from './config.js';
import type { Bench } from './context.js';
import { say, sleep } from './stack.js';

const SAMPLE_EVERY_MS = 100;
/** A scenario is sampled for this long at most. */
const MAX_SAMPLING_MS = 10 * 60_000;
const MAX_ENTRIES = 20_000;

/** Envoy counters that say why a request to a version's cluster failed. */
const FAILURE_COUNTERS = [
  'upstream_cx_connect_fail',
  'upstream_cx_destroy_remote_with_active_rq',
  'upstream_rq_pending_failure_eject',
  'upstream_rq_rx_reset',
  'upstream_rq_503',
  'upstream_cx_none_healthy',
];

interface Entry {
  at: number;
  what: string;
}

export class FlipLog {
  readonly #b: Bench;
  readonly #entries: Entry[] = [];
  #last = '';
  #running = false;
  #done: Promise<void> = Promise.resolve();
  #statsBefore: Record<string, number> = {};

  constructor(b: Bench) {
    this.#b = b;
  }

  /** Starts sampling (until {@link stop}, or 10 min). */
  async start(): Promise<void> {
    this.#statsBefore = await this.#b.envoy.stats();
    this.#running = true;
    const until = Date.now() + MAX_SAMPLING_MS;
    this.#done = (async () => {
      while (this.#running && Date.now() < until && this.#entries.length < MAX_ENTRIES) {
        await this.#sample().catch(() => undefined);
        await sleep(SAMPLE_EVERY_MS);
      }
    })();
  }

  /** Adds an entry of the bench's own (a command sent). */
  note(what: string): void {
    this.#entries.push({ at: Date.now(), what });
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }

  /**
   * Prints each request of `load` that failed at or after `since`, with the
   * timeline entries of the 2 s before it and the 1 s after, then Envoy's
   * failure counters that moved. Returns how many failures it printed.
   */
  async explain(load: LoadStats, since: number): Promise<number> {
    const failures = load.failures.filter((f) => f.at >= since);
    for (const f of failures) {
      say(
        `user error at ${iso(f.at)}: ${f.status || 'no answer'} for ${f.path}` +
          ` (x-version ${f.version || '-'}): ${f.detail.replace(/\s+/g, ' ').slice(0, 140)}`,
      );
      for (const e of this.#entries.filter((x) => x.at >= f.at - 2000 && x.at <= f.at + 1000)) {
        say(`   ${e.at <= f.at ? '-' : '+'}${String(Math.abs(f.at - e.at)).padStart(4)} ms  ${e.what}`);
      }
    }
    const after = await this.#b.envoy.stats();
    const moved = Object.entries(after)
      .filter(([name]) => name.startsWith(`cluster.${SERVICE}-`))
      .filter(([name]) => FAILURE_COUNTERS.some((c) => name.endsWith(`.${c}`)))
      .map(([name, v]) => [name, v - (this.#statsBefore[name] ?? 0)] as const)
      .filter(([, d]) => d > 0);
    for (const [name, d] of moved) say(`envoy ${name} +${d}`);
    return failures.length;
  }

  async #sample(): Promise<void> {
    const s = await this.#b.daemon.service(SERVICE);
    if (!s) return;
    const d = s.deployment;
    const pools = s.pools
      .map((p) => `${p.version}/${p.pool} ${p.ready}/${p.desired}`)
      .sort()
      .join(', ');
    const proxy = s.proxies[0];
    const acked = proxy ? `${JSON.stringify(proxy.ackedWeights)}${proxy.inSync ? '' : ' (syncing)'}` : '-';
    const what = `${d ? `${d.version} ${d.phase} at ${d.candidateWeight} %` : 'no deployment'}; pools ${pools}; Envoy runs ${acked}`;
    if (what === this.#last) return;
    this.#last = what;
    this.#entries.push({ at: Date.now(), what });
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}
