/**
 * Plain objects → protobuf bytes for xDS resources, strictly.
 *
 * Resources are written as plain objects in Envoy's proto field names
 * (snake_case), with nested `google.protobuf.Any` values given as
 * `{ '@type': 'type.googleapis.com/<message>', ...fields }`, durations as
 * `{ seconds, nanos }` and wrappers as `{ value }`. protobufjs silently drops
 * unknown fields; {@link checkFields} refuses them instead, so a misspelt
 * field is an error with a path rather than a setting Envoy never sees.
 */
import protobuf from 'protobufjs';
import { xdsProtos } from './protos.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, messageName, type TypeUrl } from './type-urls.js';

/** An encoded resource as it travels inside a DiscoveryResponse. */
export interface AnyResource {
  type_url: string;
  value: Uint8Array;
}

const ANY = '.google.protobuf.Any';

function lookupType(url: string): protobuf.Type | undefined {
  try {
    return xdsProtos().root.lookupType(messageName(url));
  } catch {
    return undefined;
  }
}

/**
 * Every field path in `obj` that the message type does not define, or whose
 * value has the wrong shape (returned as `path: reason`). Empty when clean.
 */
export function checkFields(type: protobuf.Type, obj: unknown, path = ''): string[] {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    return [`${path || '(root)'}: must be an object for ${type.fullName.slice(1)}`];
  }
  const errors: string[] = [];
  const isAny = type.fullName === ANY;
  if (isAny && '@type' in obj) {
    const url = String((obj as Record<string, unknown>)['@type']);
    const inner = lookupType(url);
    if (!inner) return [`${path}['@type']: unknown message ${url}`];
    const { '@type': _ignored, ...rest } = obj as Record<string, unknown>;
    return checkFields(inner, rest, path);
  }
  for (const [key, value] of Object.entries(obj)) {
    const at = path ? `${path}.${key}` : key;
    const field = type.fields[key];
    if (!field) {
      errors.push(`${at}: no such field in ${type.fullName.slice(1)}`);
      continue;
    }
    if (value === undefined) continue;
    field.resolve();
    const check = (v: unknown, p: string): void => {
      if (field.resolvedType instanceof protobuf.Type) {
        if (v instanceof Uint8Array) return;
        errors.push(...checkFields(field.resolvedType, v, p));
      } else if (field.resolvedType instanceof protobuf.Enum) {
        if (typeof v === 'string' && !(v in field.resolvedType.values)) {
          errors.push(`${p}: ${v} is not a value of ${field.resolvedType.fullName.slice(1)}`);
        }
      }
    };
    if (field.map) {
      for (const [k, v] of Object.entries(value as object)) check(v, `${at}.${k}`);
    } else if (field.repeated) {
      if (!Array.isArray(value)) errors.push(`${at}: must be a list`);
      else for (const [i, v] of value.entries()) check(v, `${at}[${i}]`);
    } else {
      check(value, at);
    }
  }
  return errors;
}

/** Result of {@link encodeResource}: the bytes, or errors with paths. */
export type EncodeResult = { ok: true; resource: AnyResource } | { ok: false; errors: string[] };

/** Recently encoded resources by type and JSON text: unchanged resources are not re-checked. */
const recent = new Map<string, AnyResource>();
const RECENT_MAX = 4096;

/**
 * Encodes one resource of `typeUrl` from its plain-object form. Results are
 * memoised by content (bounded), so re-rendering an unchanged resource costs
 * one JSON.stringify.
 */
export function encodeResource(typeUrl: TypeUrl | string, obj: object): EncodeResult {
  const key = `${typeUrl}\n${JSON.stringify(obj)}`;
  const hit = recent.get(key);
  if (hit) return { ok: true, resource: hit };
  const result = encodeUncached(typeUrl, obj);
  if (result.ok) {
    if (recent.size >= RECENT_MAX) recent.delete(recent.keys().next().value!);
    recent.set(key, result.resource);
  }
  return result;
}

function encodeUncached(typeUrl: string, obj: object): EncodeResult {
  const type = lookupType(typeUrl);
  if (!type) return { ok: false, errors: [`(root): unknown type ${typeUrl}`] };
  const errors = checkFields(type, obj);
  if (errors.length > 0) return { ok: false, errors };
  let value: Uint8Array;
  try {
    value = type.encode(type.fromObject(obj)).finish();
  } catch (err) {
    return { ok: false, errors: [`(root): ${(err as Error).message}`] };
  }
  return { ok: true, resource: { type_url: typeUrl, value } };
}

/** Decodes an `Any` back to a plain object (nested Any values expanded with `@type`). */
export function decodeResource(resource: AnyResource): Record<string, unknown> {
  const type = lookupType(resource.type_url);
  if (!type) throw new Error(`decodeResource: unknown type ${resource.type_url}`);
  return type.toObject(type.decode(resource.value), { longs: Number, enums: String, json: true }) as Record<
    string,
    unknown
  >;
}

/** The name by which xDS addresses a resource (`cluster_name` for endpoints, `name` otherwise). */
export function resourceName(typeUrl: string, obj: object): string {
  const o = obj as { name?: unknown; cluster_name?: unknown };
  const name = typeUrl === ENDPOINT_TYPE ? o.cluster_name : o.name;
  return typeof name === 'string' ? name : '';
}

/** Whether a Cluster object takes its endpoints from EDS. */
export function isEdsCluster(typeUrl: string, obj: object): boolean {
  if (typeUrl !== CLUSTER_TYPE) return false;
  return (obj as { type?: unknown }).type === 'EDS';
}
