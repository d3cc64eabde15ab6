/**
 * How a version reaches its service's dependencies: through the service's
 * egress listener (`egress`), under a path prefix that names the caller, so
 * that Envoy can tell one version's calls from another's (and fault the
 * candidate's alone). Shared by the renderer, which routes each prefix, and
 * the provisioner, which hands each instance its URLs.
 */
import { joinHostPort, splitHostPort } from './addresses.js';

/** What of a service's configuration its dependency URLs depend on (a `ServiceConfig` fits). */
export interface DependentService {
  name: string;
  egress?: string | undefined;
  dependencies: Record<string, string>;
}

/**
 * The path prefix under which one instance pool of a version reaches one
 * dependency: `/<service>/<version>/<pool>/<dependency>`. The egress route
 * strips it, so the dependency sees the caller's own path.
 */
export function egressPath(service: string, version: string, pool: string, dependency: string): string {
  return `/${service}/${version}/${pool}/${dependency}`;
}

/** The environment variable that carries a dependency's URL: `UMBRA_DEP_<NAME>_URL` (`db-main` → `DB_MAIN`). */
export function dependencyEnvName(dependency: string): string {
  return `UMBRA_DEP_${dependency.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_URL`;
}

/** Where the versions call the egress listener: its address, a wildcard one as loopback. */
function egressOrigin(egress: string): string {
  const { host, port } = splitHostPort(egress);
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${joinHostPort(reachable, port)}`;
}

/**
 * The dependency URLs of one instance pool of a version, by environment
 * variable (empty when the service declares no dependencies).
 */
export function dependencyEnv(
  service: DependentService,
  version: string,
  pool: string,
): Record<string, string> {
  if (!service.egress) return {};
  const origin = egressOrigin(service.egress);
  const out: Record<string, string> = {};
  for (const dep of Object.keys(service.dependencies))
    out[dependencyEnvName(dep)] = `${origin}${egressPath(service.name, version, pool, dep)}`;
  return out;
}
