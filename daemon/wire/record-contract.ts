/**
 * The record contract between the filter and the daemon, as numbers and
 * names: `Record.arm` (enum Arm), the `Record.flags` bits (enum Flag) and the
 * `Counters` fields, all from proto/umbra/telemetry/v1/telemetry.proto. The
 * daemon's readers (decode, pairing, aggregation, replay, metrics) take them
 * from here; the filter takes its own from the enums generated from the same
 * proto (filter/assembly/generated/, record-flags.ts, metrics.ts), and
 * test/unit/wire/record-contract.test.ts keeps all of them equal to the proto.
 */

export const ARM_UNSPECIFIED = 0;
export const ARM_PRIMARY = 1;
export const ARM_CANDIDATE = 2;
export const ARM_BASELINE = 3;
export const ARM_LIVE = 4;

export const FLAG_TIMEOUT = 1;
export const FLAG_RESET = 2;
export const FLAG_CONNECT_FAILURE = 4;
export const FLAG_BODY_TRUNCATED = 8;
export const FLAG_GENERATED_ID = 16;
export const FLAG_MIRROR_ABANDONED = 32;
export const FLAG_OUTCOME = 64;

/** Names of Counters fields 1..12, in field order. */
export const COUNTER_NAMES = [
  'requests',
  'mirrored',
  'skipped_sampling',
  'skipped_method',
  'skipped_path',
  'skipped_body_size',
  'skipped_paused',
  'shadow_busy',
  'skipped_no_segment',
  'dropped_records',
  'callout_failures',
  'stream_reconnects',
] as const;
