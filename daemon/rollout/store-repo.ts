/**
 * The {@link DeploymentRepo} over the daemon's store (daemon/store): the
 * deployment row keeps id, service, versions, phase and times; everything
 * else of the state is the row's phase data.
 */
import type { DeploymentRow, DeploymentStore } from '../store/store.js';
import type { Phase } from './phases.js';
import { isPhase, TERMINAL_PHASES } from './phases.js';
import type { DeploymentRepo, TransitionRecord } from './ports.js';
import type { DeploymentState } from './types.js';

type PhaseData = Omit<
  DeploymentState,
  'id' | 'service' | 'version' | 'previousVersion' | 'phase' | 'createdAt' | 'updatedAt'
>;

function phaseData(s: DeploymentState): PhaseData {
  const {
    id: _id,
    service: _s,
    version: _v,
    previousVersion: _p,
    phase: _ph,
    createdAt: _c,
    updatedAt: _u,
    ...rest
  } = s;
  return rest;
}

function fromRow(r: DeploymentRow): DeploymentState {
  if (!isPhase(r.phase)) throw new Error(`deployment ${r.id} has an unknown phase '${r.phase}'`);
  return {
    ...(r.phaseData as PhaseData),
    id: r.id,
    service: r.service,
    version: r.version,
    previousVersion: r.previousVersion ?? '',
    phase: r.phase,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

export function storeDeploymentRepo(
  store: DeploymentStore & { transaction<T>(fn: () => T): T },
): DeploymentRepo {
  return {
    create(state, reason) {
      store.transaction(() => {
        store.createDeployment({
          id: state.id,
          service: state.service,
          version: state.version,
          previousVersion: state.previousVersion || null,
          phase: state.phase,
          phaseData: phaseData(state),
          createdAt: state.createdAt,
          updatedAt: state.updatedAt,
        });
        store.transition({
          deploymentId: state.id,
          from: state.phase,
          to: state.phase,
          event: 'deploy',
          at: state.createdAt,
          detail: { reason },
        });
      });
    },
    save(next, expectedPhase, transition) {
      if (transition || next.phase !== expectedPhase) {
        store.transition({
          deploymentId: next.id,
          from: expectedPhase,
          to: next.phase,
          event: transition?.event ?? 'update',
          at: next.updatedAt,
          detail: { reason: transition?.reason ?? '' },
          phaseData: phaseData(next),
        });
        return;
      }
      store.transaction(() => {
        const cur = store.getDeployment(next.id);
        if (!cur) throw new Error(`deployment ${next.id} does not exist`);
        if (cur.phase !== expectedPhase)
          throw new Error(`deployment ${next.id} is in phase ${cur.phase}, not ${expectedPhase}`);
        store.updatePhaseData(next.id, phaseData(next), next.updatedAt);
      });
    },
    get(id) {
      const r = store.getDeployment(id);
      return r ? fromRow(r) : undefined;
    },
    list(filter = {}) {
      return store
        .listDeployments({
          ...(filter.service === undefined ? {} : { service: filter.service }),
          ...(filter.activeOnly ? { excludePhases: [...TERMINAL_PHASES] } : {}),
          ...(filter.limit === undefined ? {} : { limit: filter.limit }),
        })
        .map(fromRow);
    },
    transitions(deploymentId) {
      return store.listTransitions(deploymentId).map(
        (t): TransitionRecord => ({
          deploymentId: t.deploymentId,
          // Rows are only written through this repo, so their phases are ours.
          from: t.from as Phase,
          to: t.to as Phase,
          event: t.event,
          at: t.at,
          reason: String((t.detail as { reason?: unknown } | null)?.reason ?? ''),
        }),
      );
    },
  };
}
