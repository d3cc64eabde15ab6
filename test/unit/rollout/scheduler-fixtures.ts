/** A manual clock and a recording effect runner for scheduler tests. */
import type { Clock, EffectRunner } from '../../../daemon/rollout/ports.js';
import type { DeploymentState, Effect, RolloutEventBody } from '../../../daemon/rollout/types.js';

/** Time moves only when the test says so; due timers fire in deadline order. */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start: number) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + ms, fn });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Moves time forward by `ms`, firing every timer that falls due (bounded). */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (let i = 0; i < 1000; i++) {
      const due = [...this.#timers.entries()]
        .filter(([, t]) => t.at <= end)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.#now = Math.max(this.#now, due[1].at);
      due[1].fn();
    }
    this.#now = end;
  }

  get pending(): number {
    return this.#timers.size;
  }
}

/**
 * Records every effect it runs. A `provision` reports its pool ready with the
 * requested replicas, unless `failProvision` names the version or
 * `holdProvision` keeps it waiting until released; `holdDeprovision` keeps a
 * teardown of that version waiting likewise.
 */
export class RecordingRunner implements EffectRunner {
  readonly ran: { deploymentId: string; effect: Effect }[] = [];
  failProvision: string | null = null;
  holdProvision: string | null = null;
  holdDeprovision: string | null = null;
  readonly #held: (() => void)[] = [];

  async run(effect: Effect, deployment: DeploymentState): Promise<RolloutEventBody[] | undefined> {
    this.ran.push({ deploymentId: deployment.id, effect });
    if (effect.kind === 'deprovision' && effect.version === this.holdDeprovision)
      await new Promise<void>((resolve) => this.#held.push(resolve));
    if (effect.kind !== 'provision') return undefined;
    if (effect.version === this.failProvision) throw new Error(`${effect.version} exited with code 1`);
    if (effect.version === this.holdProvision) await new Promise<void>((resolve) => this.#held.push(resolve));
    return [{ type: 'provisioned', version: effect.version, pool: effect.pool, ready: effect.replicas }];
  }

  release(): void {
    for (const r of this.#held.splice(0)) r();
  }

  kinds(): string[] {
    return this.ran.map(({ effect: e }) =>
      e.kind === 'control'
        ? `control:${e.action}`
        : e.kind === 'route'
          ? `route:${JSON.stringify(e.weights)}`
          : `${e.kind}:${'version' in e ? e.version : ''}`,
    );
  }

  clear(): void {
    this.ran.length = 0;
  }
}
