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

export function onContextCreate(contextId: u32, parentId: u32): void {
  if (parentId === 0) {
    roots.set(contextId, new RootContext(contextId));
    return;
  }
  if (!roots.has(parentId)) return;
  streams.set(contextId, new StreamContext(roots.get(parentId)));
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

export function onDone(contextId: u32): bool {
  if (roots.has(contextId)) return roots.get(contextId).onDone();
  return true;
}

export function onLog(contextId: u32): void {
  if (streams.has(contextId)) streams.get(contextId).onLog();
}

export function onDelete(contextId: u32): void {
  if (streams.has(contextId)) {
    const s = streams.get(contextId);
    if (!s.isFinished()) s.onDelete();
    streams.delete(contextId);
    return;
  }
  roots.delete(contextId);
}

export function onRequestHeaders(contextId: u32, _headers: u32, endOfStream: bool): void {
  if (streams.has(contextId)) streams.get(contextId).onRequestHeaders(endOfStream);
}

export function onRequestBody(contextId: u32, bodySize: u32, endOfStream: bool): void {
  if (streams.has(contextId)) streams.get(contextId).onRequestBody(bodySize, endOfStream);
}

export function onRequestTrailers(contextId: u32): void {
  if (streams.has(contextId)) streams.get(contextId).onRequestTrailers();
}

export function onResponseHeaders(contextId: u32, _headers: u32, endOfStream: bool): void {
  if (streams.has(contextId)) streams.get(contextId).onResponseHeaders(endOfStream);
}

export function onResponseBody(contextId: u32, bodySize: u32, endOfStream: bool): void {
  if (streams.has(contextId)) streams.get(contextId).onResponseBody(bodySize, endOfStream);
}

export function onResponseTrailers(contextId: u32): void {
  if (streams.has(contextId)) streams.get(contextId).onResponseTrailers();
}

export function onHttpCallResponse(rootId: u32, token: u32, headers: u32, bodySize: u32): void {
  if (roots.has(rootId)) roots.get(rootId).onHttpCallResponse(token, headers, bodySize);
}

export function onGrpcReceive(rootId: u32, token: u32, size: u32): void {
  if (!roots.has(rootId)) return;
  const s = roots.get(rootId).stream;
  if (s === null) return;
  if (s.owns(token)) s.onReceive(size);
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
