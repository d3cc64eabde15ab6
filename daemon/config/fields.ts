/**
 * Field types shared by the schemas of umbra.yaml: durations and timeouts
 * (parsed to milliseconds, within bounds), names, `host:port`, webhook URLs.
 */
import { z } from 'zod';
import { formatDuration, parseDuration } from './duration.js';

/**
 * A duration (`30s`, `5m`, `1h`, or seconds as a number) → milliseconds,
 * within `[min, max]` when given (a period of 0 would spin; a timeout of 0
 * would fail everything or, in Envoy, never time out).
 */
export function duration(fallback: string, range: { min?: number; max?: number } = {}) {
  return z
    .union([z.string(), z.number()], { error: 'must be a duration like 30s, 5m or 1h' })
    .default(fallback)
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `must be a duration like 30s, 5m or 1h (got ${JSON.stringify(v)})`,
        });
        return z.NEVER;
      }
      const { min, max } = range;
      if ((min !== undefined && ms < min) || (max !== undefined && ms > max)) {
        const lo = min === undefined ? '' : `at least ${formatDuration(min)}`;
        const hi = max === undefined ? '' : `at most ${formatDuration(max)}`;
        ctx.addIssue({
          code: 'custom',
          message: `must be ${[lo, hi].filter(Boolean).join(' and ')} (got ${JSON.stringify(v)})`,
        });
        return z.NEVER;
      }
      return ms;
    });
}

/** A timeout: 0 would fail at once (or never time out), so at least 1 ms. */
export const timeout = (fallback: string, max?: number) =>
  duration(fallback, { min: 1, ...(max === undefined ? {} : { max }) });

export const NAME = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/i;
export const name = (what: string) =>
  z
    .string()
    .regex(NAME, { error: `must be a ${what} name: letters, digits, '.', '_' or '-' (1-63 characters)` });

/** `host:port`; the host may be a name, an IPv4 address or `[IPv6]`. */
export const HostPort = z
  .string()
  .regex(/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+):\d{1,5}$/i, { error: 'must be host:port, e.g. 127.0.0.1:7070' })
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, { error: 'port must be 1..65535' });

/** Where alerts are POSTed. */
export const WebhookUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/** True when `p` compiles as a JavaScript regular expression. */
export function isRegex(p: string): boolean {
  try {
    new RegExp(p);
    return true;
  } catch {
    return false;
  }
}
