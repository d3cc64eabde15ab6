/**
 * A tiny structured logger: a fixed message plus an object of variables,
 * one JSON object per line on stderr.
 *
 *   const log = logger('pairing');
 *   log.warn('batch dropped', { proxy, reason });
 *   log.trace('slot expired', { slot });      // only when tracing 'pairing'
 *
 * Level: `UMBRA_LOG_LEVEL` (debug | info | warn | error | silent; default info)
 * or {@link setLogLevel}. Per-module trace: `UMBRA_TRACE=pairing,telemetry`
 * (or `all`), or {@link setTrace}. Trace lines are emitted at level "trace"
 * regardless of the level threshold. Nothing happens at import time except
 * reading those two variables.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Fields must be JSON-serialisable; bigint is written as a string. */
export type LogFields = Record<string, unknown>;

export interface Logger {
  readonly module: string;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** Emitted only when this module is traced; check {@link Logger.tracing} before building costly fields. */
  trace(msg: string, fields?: LogFields): void;
  /** True when this module is traced (read on every call: cheap). */
  readonly tracing: boolean;
}

/** Where lines go; tests may capture them with {@link setLogSink}. */
export type LogSink = (line: string) => void;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

let threshold = RANK[parseLevel(process.env['UMBRA_LOG_LEVEL']) ?? 'info'];
let traced = parseTrace(process.env['UMBRA_TRACE']);
let sink: LogSink = (line) => process.stderr.write(line + '\n');

function parseLevel(v: string | undefined): LogLevel | undefined {
  if (v === undefined) return undefined;
  const l = v.toLowerCase();
  return l in RANK ? (l as LogLevel) : undefined;
}

function parseTrace(v: string | undefined): Set<string> {
  return new Set(
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  );
}

/** Sets the minimum level for all modules. */
export function setLogLevel(level: LogLevel): void {
  threshold = RANK[level];
}

/** Replaces the set of traced modules (`all` traces every module). */
export function setTrace(modules: string[]): void {
  traced = new Set(modules);
}

/** Redirects output (returns the previous sink so tests can restore it). */
export function setLogSink(next: LogSink): LogSink {
  const prev = sink;
  sink = next;
  return prev;
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

function emit(level: string, module: string, msg: string, fields: LogFields | undefined): void {
  const base = { t: new Date().toISOString(), level, module, msg };
  let line: string;
  try {
    line = JSON.stringify(fields ? { ...base, ...fields } : base, replacer);
  } catch {
    line = JSON.stringify({ ...base, fields: '[unserialisable]' });
  }
  sink(line);
}

/** A logger for one module (a short lowercase name: `telemetry`, `pairing`, …). */
export function logger(module: string): Logger {
  const at =
    (level: Exclude<LogLevel, 'silent'>) =>
    (msg: string, fields?: LogFields): void => {
      if (RANK[level] < threshold) return;
      emit(level, module, msg, fields);
    };
  return {
    module,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    trace(msg, fields) {
      if (traced.has(module) || traced.has('all')) emit('trace', module, msg, fields);
    },
    get tracing() {
      return traced.has(module) || traced.has('all');
    },
  };
}

/**
 * Calls `fn` at most once per `intervalMs` (per key), counting what was
 * suppressed; for logs about bad input that could otherwise flood.
 * Returns the number suppressed since the last emitted call, or -1 when this
 * call was suppressed.
 */
export function rateLimited(intervalMs: number, now: () => number = Date.now) {
  const last = new Map<string, { at: number; suppressed: number }>();
  return function allow(key: string): number {
    const t = now();
    const e = last.get(key);
    if (e && t - e.at < intervalMs) {
      e.suppressed++;
      return -1;
    }
    const suppressed = e?.suppressed ?? 0;
    if (last.size > 1024 && !e) last.clear();
    last.set(key, { at: t, suppressed: 0 });
    return suppressed;
  };
}
