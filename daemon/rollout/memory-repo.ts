/**
 * An in-memory {@link DeploymentRepo}: same contract as the SQLite one
 * (compare-and-set, copies in and out), for tests and dry runs.
 */
import { isTerminal } from './phases.js';
import type { DeploymentRepo, TransitionRecord } from './ports.js';
import type { DeploymentState } from './types.js';

export class MemoryDeploymentRepo implements DeploymentRepo {
  readonly #rows = new Map<string, DeploymentState>();
  readonly #log: TransitionRecord[] = [];

  create(state: DeploymentState, reason: string): void {
    if (this.#rows.has(state.id)) throw new Error(`deployment ${state.id} exists`);
    this.#rows.set(state.id, structuredClone(state));
    this.#log.push({
      deploymentId: state.id,
      from: state.phase,
      to: state.phase,
      event: 'deploy',
      at: state.createdAt,
      reason,
    });
  }

  save(
    next: DeploymentState,
    expectedPhase: DeploymentState['phase'],
    transition: { event: string; reason: string } | null,
  ): void {
    const cur = this.#rows.get(next.id);
    if (!cur) throw new Error(`deployment ${next.id} does not exist`);
    if (cur.phase !== expectedPhase)
      throw new Error(`deployment ${next.id} is in phase ${cur.phase}, not ${expectedPhase}`);
    this.#rows.set(next.id, structuredClone(next));
    if (transition) {
      this.#log.push({
        deploymentId: next.id,
        from: expectedPhase,
        to: next.phase,
        at: next.updatedAt,
        ...transition,
      });
    }
  }

  get(id: string): DeploymentState | undefined {
    const s = this.#rows.get(id);
    return s ? structuredClone(s) : undefined;
  }

  list(filter: { service?: string; activeOnly?: boolean; limit?: number } = {}): DeploymentState[] {
    const out = [...this.#rows.values()]
      .filter((s) => filter.service === undefined || s.service === filter.service)
      .filter((s) => !filter.activeOnly || !isTerminal(s.phase))
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
    return out.slice(0, filter.limit ?? out.length).map((s) => structuredClone(s));
  }

  transitions(deploymentId: string): TransitionRecord[] {
    return this.#log.filter((t) => t.deploymentId === deploymentId).map((t) => ({ ...t }));
  }
}
