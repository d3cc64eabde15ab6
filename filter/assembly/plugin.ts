/**
 * Dispatch from ABI callbacks to the plugin's root and stream contexts.
 * Owns the context registry of this VM (one VM per Envoy worker thread).
 */
import { BufferType, getBufferBytes, LogLevel, log } from './abi/host';
import { describeConfig, parseConfig } from './config';

/** Reported at start so operators can tell which build runs. */
export const FILTER_VERSION = '0.1.0';

class Root {
  constructor(public id: u32) {}
}

const roots = new Map<u32, Root>();

export function onContextCreate(contextId: u32, parentId: u32): void {
  if (parentId === 0) roots.set(contextId, new Root(contextId));
}

export function onConfigure(rootId: u32, configSize: u32): bool {
  const bytes = getBufferBytes(BufferType.PluginConfiguration, 0, configSize);
  const text = bytes === null ? '' : String.UTF8.decode(changetype<ArrayBuffer>(bytes));
  const parsed = parseConfig(text);
  if (parsed.config === null) {
    log(LogLevel.Error, 'umbra: invalid configuration: ' + parsed.error);
    return false;
  }
  log(LogLevel.Info, 'umbra filter ' + FILTER_VERSION + ' configured: ' + describeConfig(parsed.config!));
  if (!roots.has(rootId)) roots.set(rootId, new Root(rootId));
  return true;
}

export function onTick(_rootId: u32): void {}
export function onDone(_contextId: u32): bool {
  return true;
}
export function onLog(_contextId: u32): void {}
export function onDelete(contextId: u32): void {
  roots.delete(contextId);
}
export function onRequestHeaders(_contextId: u32, _headers: u32, _endOfStream: bool): void {}
export function onRequestBody(_contextId: u32, _bodySize: u32, _endOfStream: bool): void {}
export function onRequestTrailers(_contextId: u32): void {}
export function onResponseHeaders(_contextId: u32, _headers: u32, _endOfStream: bool): void {}
export function onResponseBody(_contextId: u32, _bodySize: u32, _endOfStream: bool): void {}
export function onResponseTrailers(_contextId: u32): void {}
export function onHttpCallResponse(_rootId: u32, _token: u32, _headers: u32, _bodySize: u32): void {}
export function onGrpcReceive(_rootId: u32, _token: u32, _size: u32): void {}
export function onGrpcClose(_rootId: u32, _token: u32, _status: u32): void {}
