/**
 * A filter setting Envoy rejects (`mirroring.timeout: 20m`): while a healthy
 * version shadows, the daemon is restarted on a config that has it, and the
 * operator promotes. Counts 1 when the healthy candidate is rolled back for
 * anything but the judge's verdict (the rejection is Envoy's NACK, not the
 * candidate's fault); 0 when the rollout
 * is held, and 0 as well when `umbra config check` refuses the file, so the
 * daemon never runs it (prevented).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../daemon/platform/envoy-binary.js';
import { SERVICE } from './config.js';
import { type Bench, deployToShadowing, endDeployment, phase } from './context.js';
import { restartMeasured } from './restarts.js';
import { poll, say } from './stack.js';

const ROLLED_BACK = ['rolling_back', 'validating', 'rolled_back', 'rollback_failed'];

export interface NackResult {
  falseRollbacks: number;
  /** `config check` refused the file: the setting never reached Envoy. */
  prevented: boolean;
}

/** Runs `umbra config check FILE`; returns its exit code and first lines of output. */
function configCheck(file: string): { code: number; output: string } {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(projectRoot(), 'daemon', 'cli', 'dev.ts'), 'config', 'check', file],
    { cwd: projectRoot(), encoding: 'utf8', timeout: 60_000 },
  );
  return {
    code: r.status ?? -1,
    output: `${r.stdout}${r.stderr}`.trim().split('\n').slice(0, 3).join(' | '),
  };
}

export async function nackFalseRollback(b: Bench, nackConfig: string): Promise<NackResult> {
  const file = join(b.dir, 'umbra-nack.yaml');
  writeFileSync(file, nackConfig);
  const check = configCheck(file);
  b.notes['nack_config_check'] = { exit: check.code, output: check.output };
  if (check.code !== 0) {
    say(
      `NACK: \`umbra config check\` refuses mirroring.timeout: 20m (${check.output}): prevented, counted 0`,
    );
    return { falseRollbacks: 0, prevented: true };
  }
  say('NACK: `umbra config check` accepts mirroring.timeout: 20m');
  // The setting arrives while a healthy version shadows (an operator edits the file and restarts):
  // the next listener Envoy gets is rejected, and the operator then promotes.
  await deployToShadowing(b, 'v3');
  const rejectedBefore = (await b.envoy.stat('listener_manager.lds.update_rejected')) ?? 0;
  await b.daemon.stop('SIGKILL');
  b.daemon.configPath = file;
  await restartMeasured(b, 'NACK restart');
  await b.daemon.ready();
  await b.daemon.client
    .command(SERVICE, 'promote', 'bench:faults NACK')
    .then(() => say('NACK: promoted the healthy v3 by hand'))
    .catch((err: Error) => say(`NACK: promote refused: ${err.message}`));
  const reached = await poll(async () => {
    const ph = await phase(b);
    return ROLLED_BACK.includes(ph) || ph === 'completed' ? ph : undefined;
  }, 30_000);
  const s = await b.daemon.service(SERVICE);
  const reason = s?.deployment?.rollbackReason ?? '';
  // A rollback the judge decided on (a false alarm under load) is not the NACK's doing.
  const judged = reason.startsWith('judge:');
  const rolledBack = reached !== undefined && ROLLED_BACK.includes(reached) && !judged;
  const rejected = ((await b.envoy.stat('listener_manager.lds.update_rejected')) ?? 0) - rejectedBefore;
  b.notes['nack'] = {
    lds_rejected: rejected,
    phase: s?.deployment?.phase ?? '',
    paused: s?.deployment?.paused ?? false,
    candidate_weight: s?.deployment?.candidateWeight ?? 0,
    last_error: s?.deployment?.lastError ?? '',
    rollback_reason: reason,
  };
  say(
    `NACK: Envoy rejected ${rejected} LDS updates; the healthy v3 ${rolledBack ? 'was rolled back' : 'was not rolled back'} (phase ${s?.deployment?.phase ?? '?'})`,
  );
  await endDeployment(b, 'abort');
  return { falseRollbacks: rolledBack ? 1 : 0, prevented: false };
}
