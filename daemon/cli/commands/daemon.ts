import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { addressInUse } from '../../config/addresses.js';
import { loadConfig, parseConfig } from '../../config/load.js';
import { openPortProblem } from '../../config/schema.js';
import { checkDaemonTls } from '../../config/tls.js';
import { checkRendering } from '../../controller/render-check.js';
import { logger } from '../../log.js';
import { DEFAULT_PARTS_OPTIONS, defaultParts, startUmbrad } from '../../umbrad.js';
import { parseFlags } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { type DaemonStore, openDaemonStore } from './daemon-store.js';

const log = logger('umbrad');

const HOST_PORT = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+):\d{1,5}$/i;

function hostPortFlag(v: unknown, name: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !HOST_PORT.test(v) || Number(v.slice(v.lastIndexOf(':') + 1)) > 65535) {
    throw new UsageError(`--${name} must be host:port, e.g. 127.0.0.1:9464 (got ${String(v)})`);
  }
  return v;
}

/**
 * Writes where each listening part bound, as one JSON object
 * (`{"telemetry":"127.0.0.1:40123",…}`), through a temporary file and a
 * rename, so a reader never sees half of it.
 */
function writePortsFile(path: string, bound: Record<string, string>): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(bound)}\n`);
  renameSync(tmp, path);
}

export const daemonCommand: Command = {
  path: ['daemon'],
  summary: 'Run the Umbra daemon (telemetry ingest, judge, rollouts, xDS, admin API)',
  usage: [
    'Usage: umbra daemon [--config FILE] [--record FILE] [--telemetry HOST:PORT] [--metrics HOST:PORT|off]',
    '                    [--stop-instances] [--ports-file FILE]',
    '',
    'Runs umbrad in the foreground until SIGINT/SIGTERM: the telemetry server',
    'for the Envoy filters, pairing and aggregation, the judge, the rollout',
    'machine with its provisioners, the xDS server for the proxies, the admin',
    'API (token in daemon.admin.tokenFile) for `umbra status|deploy|…`, the',
    'store, and /metrics. A restarted daemon resumes deployments in progress.',
    '',
    'Stopping the daemon (SIGINT, SIGTERM) leaves the service instances it runs',
    '(process and exec provisioners) serving; the next daemon on the same store',
    'adopts them.',
    '',
    'Flags:',
    '  --config FILE           umbra.yaml (default ./umbra.yaml; built-in defaults when absent)',
    '  --record FILE           also write every received batch to FILE (read it with `umbra replay`)',
    '  --telemetry HOST:PORT   override daemon.telemetry.listen',
    '  --metrics HOST:PORT     Prometheus /metrics address (default 127.0.0.1:9464; `off` disables)',
    '  --stop-instances        stop the service instances the daemon runs when it stops',
    '                          (an exec provisioner runs its stop command for each pool)',
    '  --ports-file FILE       once listening, write the address each port bound as JSON to FILE',
    '                          (with port 0 in a listen setting, the port the kernel picked)',
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, {
      config: { type: 'string' },
      record: { type: 'string' },
      telemetry: { type: 'string' },
      metrics: { type: 'string' },
      'stop-instances': { type: 'boolean' },
      'ports-file': { type: 'string' },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const configPath = flags['config'] as string | undefined;
    const loaded =
      configPath === undefined && !existsSync('umbra.yaml')
        ? parseConfig('{}')
        : loadConfig(configPath ?? 'umbra.yaml');
    if (!loaded.ok) {
      for (const e of loaded.errors) console.error(e);
      return 1;
    }
    const config = loaded.config;
    // The certificate files are checked before anything starts, so a bad path is one clear line.
    const tlsErrors = checkDaemonTls(config.daemon);
    if (tlsErrors.length > 0) {
      for (const e of tlsErrors) console.error(e);
      return 1;
    }
    // What proxies would refuse is refused here: it would leave them without a listener.
    const renderErrors = checkRendering(config);
    if (renderErrors.length > 0) {
      for (const e of renderErrors) console.error(e);
      return 1;
    }
    const metricsFlag = flags['metrics'] as string | undefined;
    const metricsListen =
      metricsFlag === 'off'
        ? null
        : (hostPortFlag(metricsFlag, 'metrics') ?? DEFAULT_PARTS_OPTIONS.metricsListen);
    const telemetryListen = hostPortFlag(flags['telemetry'], 'telemetry');
    // The override obeys the rule its setting does: off loopback only with mutual TLS.
    const open = telemetryListen && openPortProblem(config.daemon.telemetry, telemetryListen);
    if (open) {
      console.error(
        `--telemetry ${telemetryListen}: ${open.message} (daemon.telemetry.${open.at.join('.')})`,
      );
      return 1;
    }
    const recordPath = flags['record'] as string | undefined;

    // A stop asked for while the store is still out of reach ends the wait.
    const stopWaiting = new AbortController();
    const abort = (): void => stopWaiting.abort();
    process.once('SIGINT', abort);
    process.once('SIGTERM', abort);
    let opened: DaemonStore;
    try {
      opened = await openDaemonStore(config, stopWaiting.signal);
    } catch (err) {
      console.error((err as Error).message);
      return 1;
    } finally {
      process.off('SIGINT', abort);
      process.off('SIGTERM', abort);
    }
    const { store } = opened;
    let daemon: Awaited<ReturnType<typeof startUmbrad>>;
    try {
      daemon = await startUmbrad(
        { config, store },
        defaultParts({
          ...DEFAULT_PARTS_OPTIONS,
          metricsListen,
          stopInstancesOnExit: Boolean(flags['stop-instances']),
          ...(telemetryListen ? { telemetryListen } : {}),
          ...(recordPath ? { recordPath } : {}),
          ...(opened.leadership ? { leadership: opened.leadership } : {}),
        }),
      );
    } catch (err) {
      // A port in use is an operator's error: one line naming the setting, not a stack.
      const inUse = addressInUse(err, [
        { at: ['daemon', 'admin', 'listen'], hostPort: config.daemon.admin.listen },
        telemetryListen
          ? { at: ['--telemetry'], hostPort: telemetryListen }
          : { at: ['daemon', 'telemetry', 'listen'], hostPort: config.daemon.telemetry.listen },
        { at: ['daemon', 'xds', 'listen'], hostPort: config.daemon.xds.listen },
        ...(metricsListen ? [{ at: ['--metrics'], hostPort: metricsListen }] : []),
      ]);
      if (inUse === undefined) throw err;
      console.error(inUse);
      return 1;
    }
    const portsFile = flags['ports-file'] as string | undefined;
    if (portsFile !== undefined) {
      try {
        writePortsFile(portsFile, daemon.context.bound);
      } catch (err) {
        console.error(`--ports-file ${portsFile}: ${(err as Error).message}`);
        await daemon.stop();
        return 1;
      }
    }
    log.info('umbrad running', {
      services: config.services.map((s) => s.name),
      store: opened.where,
      listening: daemon.context.bound,
    });
    const signal = await new Promise<string>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    log.info('umbrad stopping', { signal });
    await daemon.stop();
    return 0;
  },
};
