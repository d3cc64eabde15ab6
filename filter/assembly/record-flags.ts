/**
 * Record.flags bits as the filter sets them, taken from the enum generated
 * from telemetry.proto (`Flag`), as u32 for bit arithmetic. The daemon reads
 * the same bits from daemon/wire/record-contract.ts; a unit test keeps
 * both equal to the proto.
 */
import { Flag } from './generated/umbra/telemetry/v1/Flag';

export const FLAG_TIMEOUT: u32 = <u32>Flag.FLAG_TIMEOUT;
export const FLAG_RESET: u32 = <u32>Flag.FLAG_RESET;
export const FLAG_CONNECT_FAILURE: u32 = <u32>Flag.FLAG_CONNECT_FAILURE;
export const FLAG_BODY_TRUNCATED: u32 = <u32>Flag.FLAG_BODY_TRUNCATED;
export const FLAG_GENERATED_ID: u32 = <u32>Flag.FLAG_GENERATED_ID;
export const FLAG_MIRROR_ABANDONED: u32 = <u32>Flag.FLAG_MIRROR_ABANDONED;
export const FLAG_OUTCOME: u32 = <u32>Flag.FLAG_OUTCOME;
/** The bits that mean the arm got no answer of its own (timeout, reset, connect failure). */
export const FLAGS_FAILED: u32 = FLAG_TIMEOUT | FLAG_RESET | FLAG_CONNECT_FAILURE;
