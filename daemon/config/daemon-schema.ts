/**
 * The `daemon:` half of umbra.yaml: where the daemon listens (admin,
 * telemetry, xDS, each with its TLS), its store (SQLite, or PostgreSQL shared
 * by several daemons), the filter it serves, alerts. Cross-field rules are in
 * checks.ts.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { duration, HostPort, timeout, WebhookUrl } from './fields.js';

/** PostgreSQL as the shared store of several daemons, one of them leading (docs/ha.md). */
export const PostgresStore = z
  .strictObject({
    /** `postgres://user[:password]@host[:port]/database[?sslmode=…]`. */
    url: z.string().regex(/^postgres(ql)?:\/\/[^\s]+$/, { error: 'must be a postgres:// URL' }),
    /** Longest wait to open a connection. */
    connectTimeout: timeout('5s', 60_000),
    /** Longest wait for any one answer of the store; the daemon's thread waits that long at most. */
    timeout: timeout('2s', 30_000),
    /** How long the leader's lease lasts without a renewal: a dead leader is replaced within it. */
    lease: duration('5s', { min: 1_000, max: 60_000 }),
    /** The admin address other daemons name as this one when it leads (default: `admin.listen`). */
    advertise: HostPort.optional(),
  })
  .refine((p) => p.timeout * 2 <= p.lease, {
    // A leader blocked on one answer must still renew its lease in time.
    error: 'must be at most half of lease',
    path: ['timeout'],
  });
export type PostgresStore = z.infer<typeof PostgresStore>;

/** TLS for one listening port; absent means plaintext. */
export const Tls = z.strictObject({
  certFile: z.string().min(1),
  keyFile: z.string().min(1),
  /** When set, clients must present a certificate signed by this CA. */
  clientCaFile: z.string().min(1).optional(),
});
export type Tls = z.infer<typeof Tls>;

/** A DNS name; a TLS server name may not be an IP address (RFC 6066 §3). */
const ServerName = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i, {
    error: 'must be a DNS name, e.g. umbrad.internal',
  })
  .refine((v) => isIP(v) === 0, { error: 'must be a DNS name: a TLS server name may not be an IP address' });

/**
 * How the proxies reach a daemon port over TLS, for the clusters Umbra sends
 * them over xDS. Every path is on the proxies' machines, not the daemon's.
 */
export const ProxyTls = z.strictObject({
  /** The CA that signed the daemon's certificate. */
  caFile: z.string().min(1),
  /** A DNS name in the daemon's certificate: sent as SNI and required in the certificate. */
  serverName: ServerName,
  /** The proxies' client certificate and key; required when the daemon sets clientCaFile. */
  certFile: z.string().min(1).optional(),
  keyFile: z.string().min(1).optional(),
});
export type ProxyTls = z.infer<typeof ProxyTls>;

/** TLS of the telemetry port, plus how the proxies Umbra configures reach it. */
export const TelemetryTls = Tls.extend({ proxy: ProxyTls.optional() });
export type TelemetryTls = z.infer<typeof TelemetryTls>;

/** An existing xDS control plane Umbra relays (overlay mode). */
export const UpstreamControlPlane = z.strictObject({
  /** Its ADS endpoint, `host:port` (gRPC). */
  address: HostPort,
  /** TLS towards it; plaintext when absent (then only on loopback, unless `insecure`). */
  tls: z
    .strictObject({
      /** The CA that signed the control plane's certificate. */
      caFile: z.string().min(1),
      /** Name expected in its certificate (default: the host of `address`). */
      serverName: ServerName.optional(),
      /** Umbra's client certificate and key, when the control plane wants mutual TLS. */
      certFile: z.string().min(1).optional(),
      keyFile: z.string().min(1).optional(),
    })
    .optional(),
  /** Allows a plaintext connection off loopback (the proxies' whole configuration crosses the network in clear). */
  insecure: z.boolean().default(false),
});
export type UpstreamControlPlane = z.infer<typeof UpstreamControlPlane>;

export const AdminConfig = z.strictObject({
  /** Loopback by default: the admin API steers production traffic. */
  listen: HostPort.default('127.0.0.1:7070'),
  /** File holding the bearer token (created with a random token when missing). `UMBRA_ADMIN_TOKEN` overrides. */
  tokenFile: z.string().min(1).default('.umbra/admin.token'),
  tls: Tls.optional(),
  /** Allows a non-loopback listen address without TLS (the token would cross the network in clear). */
  insecure: z.boolean().default(false),
  /** The admin HTTP address: the live page at /ui (same token, same tls). Absent: not served. */
  httpListen: HostPort.optional(),
});
export type AdminConfig = z.infer<typeof AdminConfig>;

export const DaemonConfig = z.strictObject({
  admin: AdminConfig.prefault({}),
  telemetry: z
    .strictObject({
      listen: HostPort.default('127.0.0.1:7071'),
      /**
       * Where the proxies reach this daemon's telemetry, when not at `listen`
       * (a wildcard listen, NAT). Default: `listen`, with the port it bound.
       */
      advertise: HostPort.optional(),
      tls: TelemetryTls.optional(),
      /** Allows a non-loopback listen address without mutual TLS (anyone who reaches it can forge records). */
      insecure: z.boolean().default(false),
      /**
       * Streams must present the token in this file (created with a random
       * token when missing; by default `telemetry.token` beside the store);
       * the daemon hands it to the filters it configures over xDS.
       * `requireToken: false` accepts any stream.
       */
      tokenFile: z.string().min(1).optional(),
      requireToken: z.boolean().default(true),
    })
    .prefault({}),
  xds: z
    .strictObject({
      listen: HostPort.default('127.0.0.1:7072'),
      tls: Tls.optional(),
      /** Allows a non-loopback listen address without mutual TLS (anyone who reaches it gets the configuration). */
      insecure: z.boolean().default(false),
      /**
       * When set, proxies must present the token in this file (created with a
       * random token when missing) as `x-umbra-xds-token` initial metadata of
       * their ADS stream (the bootstrap's `initial_metadata`). Unset: no token.
       */
      tokenFile: z.string().min(1).optional(),
      /**
       * Overlay mode: the proxies' configuration comes from this existing
       * control plane, relayed per proxy with the proxy's own node, and Umbra
       * adds only what its services' deployments need (docs/overlay.md). Any
       * node id is then served: the upstream decides what each node gets.
       */
      upstream: UpstreamControlPlane.optional(),
      /** Envoy node ids (`node.id` in their bootstrap) that get the services' configuration. */
      nodes: z
        .array(z.string().min(1))
        .min(1, { error: 'must list at least one node id' })
        .default(['umbra-edge']),
    })
    .prefault({}),
  /** Scheduled training of the judge on the store's finished deployments (`umbra model train` by hand). */
  training: z
    .strictObject({ enabled: z.boolean().default(true), every: duration('6h', { min: 60_000 }) })
    .prefault({}),
  /** The compiled Umbra filter that Envoy loads (a path on the proxies' machine). */
  filter: z.strictObject({ wasmPath: z.string().min(1).default('build/filter.wasm') }).prefault({}),
  store: z
    .strictObject({
      path: z.string().min(1).default('.umbra/umbra.db'),
      /** The shared store of several daemons (docs/ha.md); when set, `path` is not used. */
      postgres: PostgresStore.optional(),
    })
    .prefault({}),
  alerts: z
    .strictObject({
      /** Receives a JSON POST on rollbacks and failed validations; none by default. */
      webhook: WebhookUrl.optional(),
      timeout: timeout('5s'),
    })
    .prefault({}),
});
export type DaemonConfig = z.infer<typeof DaemonConfig>;
