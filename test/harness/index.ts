/** The integration-test harness: real Envoy, sample upstreams, loopback load. */
export * from './bootstrap.js';
export * from './daemon-config.js';
export * from './envoy.js';
export * from './load.js';
export * from './ports.js';
export * from './telemetry-proto.js';
export * from './tls.js';
export * from './upstream.js';
export * from './wait.js';
export * from './xds-upstream.js';
