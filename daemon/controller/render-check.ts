/**
 * What proxies would refuse in a configuration's rendering, found before
 * anything runs: each service is rendered as the daemon would publish it
 * (its stable version serving, mirroring off) and put through the same
 * checks as every publish (xds/publish.ts). Used by `umbra config check` and
 * at daemon start, so a setting Envoy would refuse is an error naming its
 * path, not a listener gone.
 */
import { splitHostPort } from '../config/addresses.js';
import type { UmbraConfig } from '../config/schema.js';
import { type DesiredRouting, mergeResources, renderService, type SnapshotInput } from '../xds/index.js';
import { publishServices } from '../xds/publish.js';
import { desiredRouting, FILTER_SETTING_PATHS } from './routing.js';

/** A placeholder address for the stable version: rendering needs one, its value is not checked. */
const PLACEHOLDER = { host: '127.0.0.1', port: 1 };

const FILTER_ERROR = /umbra filter: (\w+): (.*)$/;

/**
 * One service rendered as the daemon publishes it with no deployment in
 * progress, or (`shadowing`) with the routes that let the mirrored share and
 * the live sample into the filter, so Envoy checks those too. A telemetry
 * port of 0 (the kernel picks one at start) is checked as the placeholder:
 * the daemon renders the port it bound.
 */
export function idleRouting(config: UmbraConfig, index: number, shadowing = false): DesiredRouting {
  const s = config.services[index]!;
  const telemetryPort = splitHostPort(config.daemon.telemetry.listen).port || PLACEHOLDER.port;
  const mirror = shadowing
    ? { target: s.stable, baseline: null, percentage: s.mirroring.shadowPercentage }
    : null;
  return desiredRouting(
    config,
    s,
    { weights: { [s.stable]: 100 }, mirror, filter: shadowing },
    (v, pool) => (v === s.stable && pool === 'main' ? [PLACEHOLDER] : []),
    undefined,
    telemetryPort,
  );
}

/** Every service's rendered resources while shadowing, merged as one proxy gets them (for `envoy --mode validate`). */
export function renderAll(config: UmbraConfig): SnapshotInput {
  const options = { filter: { wasmPath: config.daemon.filter.wasmPath } };
  return mergeResources(config.services.map((_, i) => renderService(idleRouting(config, i, true), options)));
}

/** Errors with umbra.yaml paths (`services[0].mirroring.timeout: …`); empty when proxies should accept it. */
export function checkRendering(config: UmbraConfig): string[] {
  const options = { filter: { wasmPath: config.daemon.filter.wasmPath } };
  const sink = { setSnapshot: () => ({}) };
  const errors: string[] = [];
  for (const [i] of config.services.entries()) {
    const r = publishServices(sink, 'config-check', [idleRouting(config, i)], options);
    if (r.ok) continue;
    for (const e of r.errors) {
      const m = FILTER_ERROR.exec(e);
      const path = m ? FILTER_SETTING_PATHS[m[1]!] : undefined;
      if (m && path) errors.push(`services[${i}].${path}: the Umbra filter refuses it: ${m[1]}: ${m[2]}`);
      else errors.push(`services[${i}]: rendered for Envoy: ${e}`);
    }
  }
  if (errors.length > 0) return errors;
  // Together, as one proxy gets them (names shared between services).
  const all = config.services.map((_, i) => idleRouting(config, i));
  const r = publishServices(sink, 'config-check', all, options);
  return r.ok ? [] : r.errors.map((e) => `rendered for Envoy: ${e}`);
}
