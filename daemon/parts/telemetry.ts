/**
 * Daemon parts (see umbrad.ts) for telemetry: the gRPC server with the
 * optional recorder, and the pipeline clock.
 */

import { splitHostPort } from '../config/addresses.js';
import { telemetryTokenFile } from '../config/schema.js';
import { logger } from '../log.js';
import { ensureTokenFile } from '../platform/token-file.js';
import { FRAME_BATCH, FRAME_CLOSE, FRAME_META, FRAME_OPEN, RecordingWriter } from '../replay/recording.js';
import { type IngestTap, startTelemetryServer } from '../telemetry/server.js';
import type { DaemonPart, UmbradContext } from './context.js';

const log = logger('telemetry');

export interface TelemetryPartOptions {
  /** Overrides daemon.telemetry.listen (`host:port`). */
  telemetryListen?: string;
  /** Writes every received batch to this file (`umbra replay` reads it). */
  recordPath?: string;
}

/** The gRPC telemetry server (and the recorder when asked). */
export function telemetryPart(o: TelemetryPartOptions): DaemonPart {
  let server: Awaited<ReturnType<typeof startTelemetryServer>> | undefined;
  let writer: RecordingWriter | undefined;
  let flushTimer: NodeJS.Timeout | undefined;
  return {
    name: 'telemetry',
    async start(ctx: UmbradContext) {
      const listen = o.telemetryListen ?? ctx.config.daemon.telemetry.listen;
      const { host, port } = splitHostPort(listen);
      let tap: IngestTap | undefined;
      if (o.recordPath) {
        const w = new RecordingWriter(o.recordPath);
        writer = w;
        // The pipeline's timing goes first, so a replay uses exactly the daemon's settings.
        w.write(FRAME_META, 0, ctx.now(), Buffer.from(JSON.stringify({ pipeline: ctx.pipeline.options })));
        let failed = false;
        const guard = (fn: () => void): void => {
          if (failed) return;
          try {
            fn();
          } catch (err) {
            failed = true;
            log.error('recording stopped: write failed', { path: o.recordPath, error: err as Error });
          }
        };
        tap = {
          opened: (id, t) => guard(() => w.write(FRAME_OPEN, id, t)),
          batch: (id, bytes, t) => guard(() => w.write(FRAME_BATCH, id, t, bytes)),
          closed: (id, t) => guard(() => w.write(FRAME_CLOSE, id, t)),
        };
        flushTimer = setInterval(() => guard(() => w.flush()), 1000);
        log.info('recording telemetry', { path: o.recordPath });
      }
      // Only the proxies the daemon configures over xDS, for the services it configures them for.
      ctx.pipeline.ingest.accept = {
        proxies: new Set(ctx.config.daemon.xds.nodes),
        services: new Set(ctx.config.services.map((s) => s.name)),
      };
      const t = ctx.config.daemon.telemetry;
      server = await startTelemetryServer(ctx.pipeline.ingest, {
        host,
        port,
        now: ctx.now,
        ...(t.requireToken
          ? { token: ensureTokenFile(telemetryTokenFile(ctx.config.daemon), 'telemetry token') }
          : {}),
        ...(tap ? { tap } : {}),
        ...(ctx.config.daemon.telemetry.tls ? { tls: ctx.config.daemon.telemetry.tls } : {}),
      });
      ctx.telemetry = server;
    },
    async stop() {
      await server?.close();
      if (flushTimer) clearInterval(flushTimer);
      if (writer) {
        try {
          writer.close();
          log.info('recording closed', { frames: writer.frames, bytes: writer.bytesWritten });
        } catch (err) {
          log.error('recording close failed', { error: err as Error });
        }
      }
    },
  };
}

/** Moves the pipeline's clock: expires pairs and closes seconds even when no batch arrives. */
export function clockPart(tickMs: number): DaemonPart {
  let timer: NodeJS.Timeout | undefined;
  return {
    name: 'clock',
    async start(ctx) {
      timer = setInterval(() => ctx.pipeline.ingest.advance(ctx.now()), tickMs);
    },
    async stop() {
      if (timer) clearInterval(timer);
    },
  };
}
