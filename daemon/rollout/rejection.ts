/**
 * Proxy refusals (xDS NACKs) as events of the machine. Pure.
 *
 * A refusal holds a forward rollout (an automatic pause, persisted like any
 * state, so a restarted daemon is still held) and alerts at once; it never
 * rolls back a candidate and never fails a rollback: what a proxy refused is
 * a configuration problem, not evidence about a version. While rolling back
 * it is recorded and alerted, and the rollback goes on. When the proxy that
 * refused accepts a later version of the same type, the refusal is cleared
 * and a hold it caused is lifted (the hold starts afresh).
 */
import { resume } from './commands.js';
import { FORWARD_PHASES, isTerminal } from './phases.js';
import { same, update } from './transitions.js';
import type { ConfigRejection, DeploymentState, Effect, RolloutEvent, StepResult } from './types.js';

type Ev<T extends RolloutEvent['type']> = Extract<RolloutEvent, { type: T }>;

/** `proxy edge-1 refused LDS 3f2a… (shop-ingress): <Envoy's message>`. */
export function refusalText(r: Omit<ConfigRejection, 'at'>): string {
  return `proxy ${r.node} refused ${r.type} ${r.version} (${r.resources.join(', ')}): ${r.message}`;
}

const holdReason = (r: Omit<ConfigRejection, 'at'>) => `held: ${refusalText(r)}`;

export function onRejected(s: DeploymentState, e: Ev<'rejected'>): StepResult {
  if (isTerminal(s.phase)) return same(s);
  const prev = s.rejection;
  const r = e.rejection;
  // The same refusal reported again (another stream of the node, a restart): nothing new.
  if (prev && prev.node === r.node && prev.type === r.type && prev.version === r.version) return same(s);
  const rejection: ConfigRejection = { ...r, resources: [...r.resources], at: e.at };
  const what = refusalText(r);
  const alert: Effect = {
    kind: 'alert',
    service: s.service,
    deploymentId: s.id,
    key: `${s.id}:rejected:${r.node}:${r.type}:${r.version}`,
    severity: 'critical',
    message: `${s.service} ${s.version} (${s.phase}): ${what}; ${
      FORWARD_PHASES.includes(s.phase) ? 'rollout held' : 'the rollback goes on'
    }`,
  };
  if (!FORWARD_PHASES.includes(s.phase) || s.paused) {
    // Safety is never held, and an existing pause is kept as it is: recorded, reported, alerted.
    return { state: { ...s, rejection, lastError: what, updatedAt: e.at }, effects: [alert], reason: what };
  }
  const remainingMs = s.deadline ? Math.max(0, s.deadline.atMs - e.at) : null;
  const reason = holdReason(r);
  const held = update(
    s,
    e.at,
    { rejection, lastError: what, deadline: null, paused: { at: e.at, reason, remainingMs, auto: true } },
    reason,
  );
  // First in the batch: sent at once, whatever the routing effects after it do.
  held.effects.unshift(alert);
  return held;
}

export function onAccepted(s: DeploymentState, e: Ev<'accepted'>): StepResult {
  const r = s.rejection;
  // The caller reports only acceptances of what the node should have now (refusal-feed.ts).
  if (!r || r.node !== e.node || r.type !== e.xdsType) return same(s);
  const cleared = `proxy ${e.node} accepted ${e.xdsType} ${e.version}`;
  const next: DeploymentState = { ...s, rejection: null };
  if (!isTerminal(s.phase) && s.paused?.auto && s.paused.reason === holdReason(r)) {
    return resume(next, e.at, cleared);
  }
  return { state: { ...next, updatedAt: e.at }, effects: [], reason: `${cleared}; refusal cleared` };
}
