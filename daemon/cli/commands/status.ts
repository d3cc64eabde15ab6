import { intFlag, parseFlags } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { ADMIN_FLAGS, ADMIN_FLAGS_USAGE, withAdmin } from './admin-connection.js';
import { outputFlag } from './output.js';
import { renderStatus } from './render.js';

const FINAL = new Set(['completed', 'rolled_back', 'rollback_failed', 'aborted']);

/** `umbra status [SERVICE] [--watch]`. */
export const statusCommand: Command = {
  path: ['status'],
  summary: 'Show services, phases, scores, evidence and predicted time to threshold',
  usage: [
    'Usage: umbra status [SERVICE] [--watch [--interval S] [--count N] [--until-done]] [-o json]',
    '',
    'Prints every configured service (or SERVICE): its stable version, the latest',
    "deployment's phase and candidate weight, the judge's score against the",
    'threshold, the evidence per endpoint and segment, and the predicted time',
    'until the score reaches the threshold. With --watch, the first line also',
    "shows the live page's address when the daemon serves it (daemon.admin.httpListen).",
    '',
    'Flags:',
    '  --watch             refresh until interrupted (with -o json: one object per line)',
    '  --interval S        seconds between refreshes (default 2)',
    '  --count N           stop after N refreshes',
    '  --until-done        stop once no deployment is in progress',
    ...ADMIN_FLAGS_USAGE,
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, {
      ...ADMIN_FLAGS,
      watch: { type: 'boolean' },
      interval: { type: 'string' },
      count: { type: 'string' },
      'until-done': { type: 'boolean' },
    });
    const json = outputFlag(flags['output']);
    if (positionals.length > 1) throw new UsageError('expected at most one SERVICE');
    const watch = Boolean(flags['watch']);
    if (!watch && (flags['interval'] || flags['count'] || flags['until-done'])) {
      throw new UsageError('--interval, --count and --until-done need --watch');
    }
    const intervalMs = (intFlag(flags['interval'], 'interval', 1, 3600) ?? 2) * 1000;
    const count = watch ? (intFlag(flags['count'], 'count', 1, 1_000_000) ?? Number.POSITIVE_INFINITY) : 1;
    const untilDone = Boolean(flags['until-done']);
    const tty = process.stdout.isTTY && !json;

    return withAdmin(flags, json, async (client) => {
      let stop = false;
      const onSigint = () => {
        stop = true;
      };
      process.once('SIGINT', onSigint);
      try {
        for (let i = 0; i < count && !stop; i++) {
          const r = await client.status(positionals[0]);
          if (json) console.log(JSON.stringify(r));
          else {
            if (tty && watch) process.stdout.write('\x1b[2J\x1b[H');
            else if (i > 0) console.log('');
            // Several daemons on one store (docs/ha.md): a follower's view comes from the store.
            if (r.follower) {
              console.log(
                `this daemon follows (read from the shared store); the leader's admin API: ${r.leader || 'none leads at the moment'}`,
              );
            }
            console.log(
              watch
                ? `${new Date(r.nowMs).toISOString()}${r.uiUrl ? `  live page: ${r.uiUrl}` : ''}\n${renderStatus(r.services, r.nowMs)}`
                : renderStatus(r.services, r.nowMs),
            );
          }
          const busy = r.services.some((s) => s.deployment && !FINAL.has(s.deployment.phase));
          if (untilDone && !busy) break;
          if (i + 1 < count && !stop) await new Promise((res) => setTimeout(res, intervalMs));
        }
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
      return 0;
    });
  },
};
