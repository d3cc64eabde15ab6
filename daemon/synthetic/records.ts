/**
 * A step's outcome on one arm, as a record of the record contract
 * (daemon/wire/record-contract.ts), so that journeys enter the same pairing
 * and judging as mirrored requests:
 *
 * - a response whose assertions held keeps its HTTP status;
 * - a response that failed an assertion is a failed request: its status is
 *   kept when it is already 5xx, else recorded as {@link ASSERTION_FAILED_STATUS};
 * - no response is status 0 with the timeout, reset or connect-failure flag,
 *   as the filter reports a shadow that got none.
 *
 * Request ids are text with spaces (`synthetic <journey>/<step> #<run>`): the
 * filter's are 16 raw bytes (a UUID) or printable ASCII without spaces
 * (filter/assembly/request-id.ts), so the two can never be the same id.
 */
import { createHash } from 'node:crypto';
import {
  FLAG_BODY_TRUNCATED,
  FLAG_CONNECT_FAILURE,
  FLAG_RESET,
  FLAG_TIMEOUT,
} from '../wire/record-contract.js';
import type { StepResponse } from './assertions.js';

/**
 * The status a step that answered but failed its assertions is recorded
 * with. NOTE: 599 is unassigned in the IANA HTTP status registry (RFC 9110
 * §16.2.1 leaves 5xx codes above 511 unregistered); it reads as a failure
 * (the judge's failed = status ≥ 500) and differs from any real answer.
 */
export const ASSERTION_FAILED_STATUS = 599;

/** One arm of one step, in the record contract's terms. */
export interface ArmOutcome {
  status: number;
  flags: number;
  latencyUs: number;
  /** The body's hash (64 bits as two int32); 0/0 for an empty body. */
  hashLo: number;
  hashHi: number;
  /** Why the step failed on this arm; empty when it passed. */
  failures: string[];
}

const TRANSPORT_FLAG = { timeout: FLAG_TIMEOUT, reset: FLAG_RESET, connect_failure: FLAG_CONNECT_FAILURE };

export function armOutcome(r: StepResponse, failures: string[]): ArmOutcome {
  let hashLo = 0;
  let hashHi = 0;
  if (r.body.length > 0) {
    const h = createHash('sha256').update(r.body).digest();
    hashLo = h.readInt32LE(0);
    hashHi = h.readInt32LE(4);
  }
  const flags = (r.transport ? TRANSPORT_FLAG[r.transport] : 0) | (r.truncated ? FLAG_BODY_TRUNCATED : 0);
  let status = r.status;
  if (!r.transport && failures.length > 0 && status < 500) status = ASSERTION_FAILED_STATUS;
  return { status, flags, latencyUs: Math.max(0, Math.round(r.latencyUs)), hashLo, hashHi, failures };
}

/** The request id both arms of one step of one run share. */
export function syntheticRequestId(journey: string, step: string, run: number): Buffer {
  return Buffer.from(`synthetic ${journey}/${step} #${run}`);
}
