/**
 * The one way tests wait: poll a probe until its value is accepted, bounded in
 * time and in tries, and on timeout fail naming what was awaited and the last
 * value (or error) seen. Never sleep to prove that something did not happen:
 * await a counter that shows it had its chance, then assert it did not.
 */

export interface WaitOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** Pause between tries (default 50 ms). */
  intervalMs?: number;
}

/** A probe's value counts as "there" unless it is undefined, null or false. */
type Present<T> = Exclude<T, undefined | null | false>;

const isPresent = (v: unknown): boolean => v !== undefined && v !== null && v !== false;

function describe(v: unknown): string {
  if (v instanceof Error) return `error: ${v.message}`;
  if (typeof v === 'string') return JSON.stringify(v.length > 300 ? `${v.slice(0, 300)}…` : v);
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 300 ? `${s.slice(0, 300)}…` : s;
  } catch {
    return String(v);
  }
}

/**
 * Calls `probe` until `accept(value)` holds (without `accept`: until the
 * value is neither undefined, null nor false) and returns that value. A probe
 * that throws counts as "not yet" (a server still starting); its error is
 * what the timeout message shows. Fails after `timeoutMs`, and after at most
 * `timeoutMs / intervalMs + 1` tries, with
 * `timed out after 30000 ms (601 tries) waiting for <what>; last seen: <value>`.
 */
export function waitFor<T>(what: string, probe: () => T | Promise<T>, o?: WaitOptions): Promise<Present<T>>;
export function waitFor<T>(
  what: string,
  probe: () => T | Promise<T>,
  accept: (v: T) => boolean,
  o?: WaitOptions,
): Promise<T>;
export async function waitFor<T>(
  what: string,
  probe: () => T | Promise<T>,
  acceptOrOptions?: ((v: T) => boolean) | WaitOptions,
  options?: WaitOptions,
): Promise<T> {
  const accept = typeof acceptOrOptions === 'function' ? acceptOrOptions : isPresent;
  const o = (typeof acceptOrOptions === 'function' ? options : acceptOrOptions) ?? {};
  const timeoutMs = o.timeoutMs ?? 30_000;
  const intervalMs = o.intervalMs ?? 50;
  const maxTries = Math.ceil(timeoutMs / intervalMs) + 1;
  const deadline = Date.now() + timeoutMs;
  let last: unknown = 'nothing (never probed)';
  let tries = 0;
  while (tries < maxTries) {
    tries++;
    try {
      const v = await probe();
      last = v;
      if (accept(v)) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms (${tries} tries) waiting for ${what}; last seen: ${describe(last)}`,
  );
}
