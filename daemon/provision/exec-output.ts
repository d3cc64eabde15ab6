/**
 * What one call of an `exec` provisioner's command means (pure): its
 * endpoints, or an error that says whether another attempt may help.
 *
 * The contract (docs/provisioners.md): exit 0 with one JSON object on stdout,
 * `{"endpoints": [{"host": …, "port": …}, …]}` for `ensure` and `status`
 * (stdout is ignored for `stop`); exit 75 (EX_TEMPFAIL) for a failure worth
 * retrying; any other exit code for one that is not. A failing command may
 * print `{"error": "…"}` on stdout to say why; otherwise the last line of its
 * stderr is quoted. Output that breaks the contract is an error naming the
 * offending place (`stdout: endpoints[1].port: …`), never taken as data.
 */
import { isIP } from 'node:net';
import type { CommandResult } from './exec-command.js';
import type { Endpoint } from './provisioner.js';

export type ExecAction = 'ensure' | 'stop' | 'status';

/** The exit code that asks for another attempt (sysexits.h EX_TEMPFAIL). */
export const EXIT_TEMPORARY = 75;
/** Most endpoints one call may report. */
export const MAX_ENDPOINTS = 4096;

export type Verdict =
  | { ok: true; endpoints: Endpoint[] }
  | { ok: false /** Another attempt may succeed. */; temporary: boolean; error: string };

/** Reads a finished call of `action`. */
export function verdictOf(action: ExecAction, r: CommandResult): Verdict {
  if (r.spawnError !== undefined) return fail(false, `could not start: ${r.spawnError}`);
  if (r.timedOut) return fail(true, `timed out; killed with its process group (after ${r.ms} ms)`);
  if (r.overflow) return fail(false, 'printed more than 1 MiB on stdout; killed with its process group');
  if (r.signal !== null) return fail(false, `killed by ${r.signal}${stderrNote(r)}`);
  if (r.code !== 0) {
    const why = reportedError(r.stdout) ?? lastStderr(r) ?? 'no reason given';
    return fail(r.code === EXIT_TEMPORARY, `exited with code ${r.code}: ${why}`);
  }
  if (action === 'stop') return { ok: true, endpoints: [] };
  const parsed = parseEndpoints(r.stdout);
  if (!parsed.ok) return fail(false, `broke the output contract: stdout: ${parsed.error}`);
  return parsed;
}

/** The endpoints in a command's stdout, or the first thing wrong with it, with its path. */
export function parseEndpoints(
  stdout: string,
): { ok: true; endpoints: Endpoint[] } | { ok: false; error: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    const text = stdout.trim();
    return {
      ok: false,
      error:
        text === ''
          ? 'empty; expected one JSON object'
          : `not JSON (${quote(text)}); expected one JSON object`,
    };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    return { ok: false, error: `must be a JSON object (got ${quote(JSON.stringify(doc))})` };
  const o = doc as Record<string, unknown>;
  if (o['error'] !== undefined)
    return { ok: false, error: `error: reported with exit code 0: ${quote(String(o['error']))}` };
  const list = o['endpoints'];
  if (!Array.isArray(list)) return { ok: false, error: 'endpoints: required, a list of {"host", "port"}' };
  if (list.length > MAX_ENDPOINTS) return { ok: false, error: `endpoints: more than ${MAX_ENDPOINTS}` };
  const endpoints: Endpoint[] = [];
  const seen = new Map<string, number>();
  for (const [i, e] of list.entries()) {
    const at = `endpoints[${i}]`;
    if (typeof e !== 'object' || e === null || Array.isArray(e))
      return { ok: false, error: `${at}: must be an object {"host", "port"}` };
    const { host, port } = e as Record<string, unknown>;
    if (typeof host !== 'string' || !isHost(host))
      return {
        ok: false,
        error: `${at}.host: must be an IP address or a DNS name (got ${quote(JSON.stringify(host) ?? 'nothing')})`,
      };
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
      return {
        ok: false,
        error: `${at}.port: must be a whole number 1..65535 (got ${quote(JSON.stringify(port) ?? 'nothing')})`,
      };
    const key = `${host}:${port}`;
    const first = seen.get(key);
    if (first !== undefined) return { ok: false, error: `${at}: the same endpoint as endpoints[${first}]` };
    seen.set(key, i);
    endpoints.push({ host, port });
  }
  return { ok: true, endpoints };
}

const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function isHost(h: string): boolean {
  return isIP(h) !== 0 || DNS_NAME.test(h);
}

function fail(temporary: boolean, error: string): Verdict {
  return { ok: false, temporary, error };
}

/** `{"error": "…"}` on the stdout of a failed call. */
function reportedError(stdout: string): string | undefined {
  try {
    const o = JSON.parse(stdout) as unknown;
    if (typeof o === 'object' && o !== null && typeof (o as { error?: unknown }).error === 'string')
      return quote((o as { error: string }).error);
  } catch {
    // Not the contract's error object: stderr says more.
  }
  return undefined;
}

function lastStderr(r: CommandResult): string | undefined {
  const line = r.stderrTail.at(-1);
  return line === undefined ? undefined : `stderr: ${quote(line)}`;
}

function stderrNote(r: CommandResult): string {
  const s = lastStderr(r);
  return s ? `; ${s}` : '';
}

/** Shown text, cut short and on one line. */
function quote(s: string): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return JSON.stringify(one.length > 120 ? `${one.slice(0, 120)}…` : one);
}
