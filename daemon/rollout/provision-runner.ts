/**
 * The part of the effect runner that talks to provisioners: `provision` and
 * `deprovision` effects go to the service's provisioner; everything else to
 * the next runner (routing, control, alerts: wired by the daemon).
 *
 * A `provision` resolves with a `provisioned` event carrying the pool's
 * ready count. When the pool does not become fully ready in time, the
 * partial count is reported first (a rollback shifts traffic at that pace)
 * and then the failure, as events.
 */
import type { Provisioner } from '../provision/provisioner.js';
import type { EffectRunner } from './ports.js';
import type { DeploymentState, Effect, RolloutEventBody } from './types.js';

export class ProvisioningRunner implements EffectRunner {
  readonly #provisioners: (service: string) => Provisioner | undefined;
  readonly #next: EffectRunner | undefined;
  readonly #timeoutMs: number | undefined;

  constructor(opts: {
    provisioners: (service: string) => Provisioner | undefined;
    next?: EffectRunner;
    /** How long one `provision` waits for health (default: the provisioner's). */
    timeoutMs?: number;
  }) {
    this.#provisioners = opts.provisioners;
    this.#next = opts.next;
    this.#timeoutMs = opts.timeoutMs;
  }

  async run(effect: Effect, deployment: DeploymentState): Promise<RolloutEventBody[] | undefined> {
    if (effect.kind !== 'provision' && effect.kind !== 'deprovision')
      return this.#next?.run(effect, deployment);
    const p = this.#provisioners(effect.service);
    if (!p) throw new Error(`no provisioner for service '${effect.service}'`);
    const ref = { version: effect.version, pool: effect.pool };
    if (effect.kind === 'deprovision') {
      await p.stop(ref);
      return undefined;
    }
    try {
      const st = await p.ensure(
        ref,
        effect.replicas,
        this.#timeoutMs === undefined ? {} : { timeoutMs: this.#timeoutMs },
      );
      return [
        {
          type: 'provisioned',
          version: effect.version,
          pool: effect.pool,
          ready: st.ready,
          desired: st.desired,
        },
      ];
    } catch (err) {
      const ready = p.status().find((s) => s.version === ref.version && s.pool === ref.pool)?.ready ?? 0;
      const failed: RolloutEventBody = {
        type: 'effect_failed',
        effect: 'provision',
        error: (err as Error).message,
      };
      return ready > 0
        ? [{ type: 'provisioned', version: effect.version, pool: effect.pool, ready }, failed]
        : [failed];
    }
  }
}
