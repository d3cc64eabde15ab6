/**
 * The manual commands: `umbra promote|rollback|pause|resume|abort SERVICE`.
 * Each is an event through the deployment state machine; one that is not
 * valid in the current phase is refused with the reason and changes nothing.
 */
import type { CommandName } from '../../rollout/types.js';
import { parseFlags } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { ADMIN_FLAGS, ADMIN_FLAGS_USAGE, withAdmin } from './admin-connection.js';
import { outputFlag } from './output.js';
import { phaseText } from './render.js';

const SUMMARIES: Record<CommandName, string> = {
  promote: 'Move the deployment on now: shadowing → first step → next step → baking → completed',
  rollback: 'Roll the deployment back to the previous version (then validate it)',
  pause: 'Hold the deployment where it is (timers stop; an automatic rollback still happens)',
  resume: 'Continue a paused deployment',
  abort: 'Stop the deployment: all traffic straight back to the previous version, no validation',
};

function controlCommand(name: CommandName): Command {
  return {
    path: [name],
    summary: SUMMARIES[name],
    usage: [
      `Usage: umbra ${name} SERVICE [--reason TEXT] [-o json]`,
      '',
      `${SUMMARIES[name]}.`,
      'Refused, with the reason and no change, when not valid in the current phase.',
      '',
      'Flags:',
      '  --reason TEXT       recorded in the audit log',
      ...ADMIN_FLAGS_USAGE,
    ].join('\n'),
    async run(argv) {
      const { flags, positionals } = parseFlags(argv, { ...ADMIN_FLAGS, reason: { type: 'string' } });
      const json = outputFlag(flags['output']);
      if (positionals.length !== 1) throw new UsageError('expected SERVICE');
      return withAdmin(flags, json, async (client) => {
        const r = await client.command(positionals[0]!, name, flags['reason'] as string | undefined);
        if (json) console.log(JSON.stringify({ ok: true, ...r }));
        else console.log(`${r.deployment.service}: ${r.message}; now ${phaseText(r.deployment)}`);
        return 0;
      });
    },
  };
}

export const promoteCommand = controlCommand('promote');
export const rollbackCommand = controlCommand('rollback');
export const pauseCommand = controlCommand('pause');
export const resumeCommand = controlCommand('resume');
export const abortCommand = controlCommand('abort');
