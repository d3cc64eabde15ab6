/** The daemon part (see umbrad.ts) serving /metrics. */
import { splitHostPort } from '../config/addresses.js';
import type { DaemonPart } from '../part.js';
import { pipelineCollector } from './pipeline-metrics.js';
import { rolloutCollector } from './rollout-metrics.js';
import { startMetricsServer } from './server.js';

/** Prometheus /metrics on plain HTTP (loopback by default): the ingest pipeline and the rollouts. */
export function metricsPart(listen: string | null): DaemonPart {
  let server: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  let off: (() => void) | undefined;
  return {
    name: 'metrics',
    async start(ctx) {
      const offs = [
        ctx.metrics.register(pipelineCollector(ctx.pipeline)),
        // The controller starts later: read at each scrape.
        ctx.metrics.register(rolloutCollector(ctx.config.services, () => ctx.controller, ctx.store)),
      ];
      off = () => {
        for (const o of offs) o();
      };
      if (listen === null) return;
      const { host, port } = splitHostPort(listen);
      server = await startMetricsServer(ctx.metrics, host, port);
    },
    async stop() {
      off?.();
      await server?.close();
    },
  };
}
