/** The daemon part (see umbrad.ts) serving /metrics. */
import { splitHostPort } from '../config/addresses.js';
import { pipelineCollector } from '../metrics/pipeline-metrics.js';
import { startMetricsServer } from '../metrics/server.js';
import type { DaemonPart } from './context.js';

/** Prometheus /metrics on plain HTTP (loopback by default). */
export function metricsPart(listen: string | null): DaemonPart {
  let server: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  let off: (() => void) | undefined;
  return {
    name: 'metrics',
    async start(ctx) {
      off = ctx.metrics.register(pipelineCollector(ctx.pipeline));
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
