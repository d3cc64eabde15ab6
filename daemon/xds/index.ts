/** The xDS control plane: ADS server, snapshots, and the service renderer. */
export { adsBootstrap, type BootstrapValues, renderBootstrapText } from './bootstrap.js';
export { type AnyResource, decodeResource, encodeResource } from './encode.js';
export { checkRendered } from './resources/check.js';
export type {
  DesiredEndpoint,
  DesiredFilterGate,
  DesiredMirror,
  DesiredRouting,
  DesiredTelemetry,
  DesiredVersion,
} from './resources/desired.js';
export { validateDesired } from './resources/desired.js';
export { FILTER_NUMBER_LIMITS, filterConfigErrors } from './resources/filter-limits.js';
export { routeConfigName, TELEMETRY_CLUSTER, versionCluster, XDS_CLUSTER } from './resources/names.js';
export {
  filterConfiguration,
  mergeResources,
  type RenderOptions,
  renderService,
} from './resources/render.js';
export { routeWeights } from './resources/route-weights.js';
export {
  type UpstreamTls,
  upstreamTlsSocket,
  validateUpstreamTls,
} from './resources/tls.js';
export {
  type AckEvent,
  type NackRecord,
  type NodeStatus,
  XdsNackError,
  XdsServer,
  type XdsServerOptions,
} from './server.js';
export {
  checkConsistency,
  createSnapshot,
  type Snapshot,
  type SnapshotInput,
  snapshotVersions,
} from './snapshot.js';
export * from './type-urls.js';
