/**
 * Structural checks of rendered Envoy resources, run before anything is
 * published (publish.ts) and by `umbra config check`: what Envoy would refuse
 * (NACK) or what would leave a proxy without its listener. Complements
 * `checkConsistency` (snapshot.ts), which checks references between
 * resources; this checks each resource's own values.
 *
 * - Durations within google.protobuf.Duration's range, never negative;
 *   `connect_timeout` above zero (Envoy's proto rule `gt: {}`).
 * - Resource names non-empty, without whitespace or control characters.
 * - Socket ports 1..65535.
 * - The Umbra Wasm filter's configuration as the filter parses it
 *   (filter-limits.ts), and the clusters it names exist.
 *
 * Pure; returns errors with paths (`listeners[0]…http_filters[0]: umbra
 * filter: shadowTimeoutMs: must be an integer 1..600000 (got 1200000)`).
 */
import type { SnapshotInput } from '../snapshot.js';
import { FILTER_CLUSTER_FIELDS, filterConfigErrors } from './filter-limits.js';

const WASM_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm';
/** NOTE: google/protobuf/duration.proto: seconds within ±315,576,000,000 (10,000 years). */
const MAX_DURATION_SECONDS = 315_576_000_000;
/** Durations Envoy requires to be above zero (PGV `gt: {}`), by field name. */
const POSITIVE_DURATIONS = new Set(['connect_timeout']);
const BAD_NAME = /[\s\p{Cc}]/u;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function isDuration(v: Obj): boolean {
  const keys = Object.keys(v);
  return keys.length > 0 && keys.every((k) => k === 'seconds' || k === 'nanos');
}

function checkDuration(d: Obj, field: string, at: string, errors: string[]): void {
  const seconds = Number(d['seconds'] ?? 0);
  const nanos = Number(d['nanos'] ?? 0);
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_DURATION_SECONDS)
    errors.push(`${at}.seconds: must be an integer 0..${MAX_DURATION_SECONDS} (got ${d['seconds']})`);
  else if (!Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999)
    errors.push(`${at}.nanos: must be an integer 0..999999999 (got ${d['nanos']})`);
  else if (POSITIVE_DURATIONS.has(field) && seconds === 0 && nanos === 0)
    errors.push(`${at}: must be above zero`);
}

/** Walks every value: durations and socket ports anywhere in a resource. */
function walk(v: unknown, field: string, at: string, errors: string[]): void {
  if (Array.isArray(v)) {
    for (const [i, item] of v.entries()) walk(item, field, `${at}[${i}]`, errors);
    return;
  }
  if (!isObj(v)) return;
  if (isDuration(v)) {
    checkDuration(v, field, at, errors);
    return;
  }
  if (field === 'socket_address') {
    const port = v['port_value'];
    if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535)
      errors.push(`${at}.port_value: must be 1..65535 (got ${JSON.stringify(port)})`);
  }
  for (const [k, child] of Object.entries(v)) walk(child, k, `${at}.${k}`, errors);
}

/** The Umbra filters of a listener, with their paths. */
function wasmFilters(listener: Obj, at: string): Array<[string, Obj]> {
  const out: Array<[string, Obj]> = [];
  const visit = (v: unknown, path: string): void => {
    if (Array.isArray(v)) {
      for (const [i, x] of v.entries()) visit(x, `${path}[${i}]`);
    } else if (isObj(v)) {
      const typed = v['typed_config'];
      if (isObj(typed) && typed['@type'] === WASM_TYPE) out.push([path, typed]);
      for (const [k, child] of Object.entries(v)) visit(child, `${path}.${k}`);
    }
  };
  visit(listener, at);
  return out;
}

function checkWasmFilter(typed: Obj, at: string, clusters: ReadonlySet<string>, errors: string[]): void {
  const cfg = isObj(typed['config']) ? typed['config'] : {};
  const configuration = isObj(cfg['configuration']) ? cfg['configuration'] : {};
  const text = configuration['value'];
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof text === 'string' ? text : '');
  } catch {
    errors.push(`${at}: umbra filter: configuration is not JSON`);
    return;
  }
  if (!isObj(parsed)) {
    errors.push(`${at}: umbra filter: configuration must be a JSON object`);
    return;
  }
  for (const e of filterConfigErrors(parsed)) errors.push(`${at}: umbra filter: ${e}`);
  for (const field of FILTER_CLUSTER_FIELDS) {
    const name = parsed[field];
    if (typeof name === 'string' && name !== '' && !clusters.has(name))
      errors.push(`${at}: umbra filter: ${field}: cluster ${name} does not exist`);
  }
}

/** Every problem in rendered resources, with paths; empty when Envoy should accept them. */
export function checkRendered(input: SnapshotInput): string[] {
  const errors: string[] = [];
  const clusters = new Set<string>();
  for (const c of input.clusters ?? [])
    if (typeof (c as Obj)['name'] === 'string') clusters.add((c as Obj)['name'] as string);
  for (const key of ['clusters', 'endpoints', 'listeners', 'routes'] as const) {
    (input[key] ?? []).forEach((r, i) => {
      const at = `${key}[${i}]`;
      const o = r as Obj;
      const name = key === 'endpoints' ? o['cluster_name'] : o['name'];
      if (typeof name !== 'string' || name === '' || BAD_NAME.test(name))
        errors.push(
          `${at}: name must be non-empty, without spaces or control characters (got ${JSON.stringify(name)})`,
        );
      walk(o, key, at, errors);
      if (key === 'listeners') {
        for (const [path, typed] of wasmFilters(o, at)) checkWasmFilter(typed, path, clusters, errors);
      }
    });
  }
  return errors;
}
