/**
 * The Envoy bootstrap for an ADS-only proxy (envoy/bootstrap.yaml), with its
 * placeholders filled in. The YAML file is the single source: this module
 * only substitutes and parses it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { projectRoot } from '../platform/envoy-binary.js';

/** Values for the template's placeholders. */
export interface BootstrapValues {
  nodeId: string;
  /** Informational service cluster of the proxy (default `umbra`). */
  nodeCluster?: string;
  xdsHost: string;
  xdsPort: number;
  adminPort: number;
}

/** Path of the template inside the checkout. */
export function bootstrapTemplatePath(): string {
  return join(projectRoot(), 'envoy', 'bootstrap.yaml');
}

/** The template text with every `${NAME}` replaced; throws on an unknown or missing placeholder. */
export function renderBootstrapText(
  v: BootstrapValues,
  template = readFileSync(bootstrapTemplatePath(), 'utf8'),
) {
  const values: Record<string, string> = {
    NODE_ID: JSON.stringify(v.nodeId),
    NODE_CLUSTER: JSON.stringify(v.nodeCluster ?? 'umbra'),
    XDS_HOST: JSON.stringify(v.xdsHost),
    XDS_PORT: String(v.xdsPort),
    ADMIN_PORT: String(v.adminPort),
  };
  return template.replace(/\$\{([A-Z_]+)\}/g, (_m, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`envoy/bootstrap.yaml: unknown placeholder \${${name}}`);
    return value;
  });
}

/** The bootstrap as an object (what Envoy reads from `-c bootstrap.json`). */
export function adsBootstrap(v: BootstrapValues): Record<string, unknown> {
  return parse(renderBootstrapText(v)) as Record<string, unknown>;
}
