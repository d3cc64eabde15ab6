/**
 * Dispatch from ABI callbacks to the plugin's root and stream contexts.
 * Owns the context registry of this VM (one VM per Envoy worker thread).
 */
import { BufferType, getBufferBytes, LogLevel, log } from './abi/host';
import { describeConfig, parseConfig } from './config';
import { RootContext } from './root';
import { StreamContext } from './stream';

/** Reported at start so operators can tell which build runs. */
export const FILTER_VERSION = '0.2.0';

const roots = new Map<u32, RootContext>();
const streams = new Map<u32, StreamContext>();
// The last stream looked up: a request's callbacks usually come in a row.
let lastId: u32 = 0;
let lastStream: StreamContext | null = null;

function stream(id: u32): StreamContext | null {
  if (id === lastId && lastStream !== null) return lastStream;
  if (!streams.has(id)) return null;
  const s = streams.get(id);
  lastId = id;
  lastStream = s;
  return s;
}

// Finished stream contexts kept for reuse (fewer allocations per request).
const pool: StreamContext[] = [];
const POOL_MAX = 1024;

export function onContextCreate(contextId: u32, parentId: u32): void {
  if (parentId === 0) {
    roots.set(contextId, new RootContext(contextId));
    return;
  }
  if (!roots.has(parentId)) return;
  const root = roots.get(parentId);
  let s: StreamContext;
  if (pool.length > 0) {
    s = pool.pop();
    s.reset(root);
  } else {
    s = new StreamContext(root);
  }
  streams.set(contextId, s);
}

export function onConfigure(rootId: u32, configSize: u32): bool {
  const bytes = getBufferBytes(BufferType.PluginConfiguration, 0, configSize);
  const text = bytes === null ? '' : String.UTF8.decode(changetype<ArrayBuffer>(bytes));
  const parsed = parseConfig(text);
  if (parsed.config === null) {
    log(LogLevel.Error, 'umbra: invalid configuration: ' + parsed.error);
    return false;
  }
  const config = parsed.config!;
  if (!roots.has(rootId)) roots.set(rootId, new RootContext(rootId));
  roots.get(rootId).configure(config);
  log(LogLevel.Info, 'umbra filter ' + FILTER_VERSION + ' configured: ' + describeConfig(config));
  return true;
}

export function onTick(rootId: u32): void {
  if (roots.has(rootId)) roots.get(rootId).onTick();
}

export function onDelete(contextId: u32): void {
  const s = stream(contextId);
  if (s !== null) {
    // NOTE: the record is written here rather than in proxy_on_log: Envoy
    // calls proxy_on_delete right after the access-log phase and still
    // answers header and xds.* property reads, and leaving proxy_on_log and
    // proxy_on_done unexported saves two VM entries per request.
    s.finish();
    streams.delete(contextId);
    if (pool.length < POOL_MAX) pool.push(s);
    lastId = 0;
    lastStream = null;
    return;
  }
  roots.delete(contextId);
}

export function onRequestHeaders(contextId: u32, _headers: u32, endOfStream: bool): void {
  const s = stream(contextId);
  if (s !== null) s.onRequestHeaders(endOfStream);
}

export function onRequestBody(contextId: u32, bodySize: u32, endOfStream: bool): void {
  const s = stream(contextId);
  if (s !== null) s.onRequestBody(bodySize, endOfStream);
}

export function onRequestTrailers(contextId: u32): void {
  const s = stream(contextId);
  if (s !== null) s.onRequestTrailers();
}

export function onResponseHeaders(contextId: u32, _headers: u32, endOfStream: bool): void {
  const s = stream(contextId);
  if (s !== null) s.onResponseHeaders(endOfStream);
}

export function onResponseBody(contextId: u32, bodySize: u32, endOfStream: bool): void {
  const s = stream(contextId);
  if (s !== null) s.onResponseBody(bodySize, endOfStream);
}

export function onResponseTrailers(contextId: u32): void {
  const s = stream(contextId);
  if (s !== null) s.onResponseTrailers();
}

export function onHttpCallResponse(rootId: u32, token: u32, headers: u32, bodySize: u32): void {
  if (roots.has(rootId)) roots.get(rootId).onHttpCallResponse(token, headers, bodySize);
}

export function onGrpcReceive(rootId: u32, token: u32, size: u32): void {
  if (!roots.has(rootId)) return;
  const root = roots.get(rootId);
  const s = root.stream;
  if (s === null || !s.owns(token)) return;
  const control = s.onReceive(size);
  if (control !== null)
    root.applyControl(<i32>control.kind, control.shadowPercentage, control.splitPercentage);
}

export function onGrpcInitialMetadata(rootId: u32, token: u32): void {
  if (!roots.has(rootId)) return;
  const s = roots.get(rootId).stream;
  if (s === null) return;
  if (s.owns(token)) s.onInitialMetadata();
}

export function onGrpcClose(rootId: u32, token: u32, status: u32): void {
  if (!roots.has(rootId)) return;
  const s = roots.get(rootId).stream;
  if (s === null) return;
  if (s.owns(token)) s.closed(status);
}
