/**
 * One A/A trap run of bench:judge, rebuilt with the bench's own generator and
 * replayed as `umbra replay` does (the built-in model, t = 2): the run that
 * `node --import tsx bench/judge.ts --only traps --seed BENCH_SEED` numbers
 * `seed`, judged without history.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate, suiteProfiles } from '../../../bench/scenarios/generator.js';
import { type RollbackSeen, replayForRollback, writeScenario } from '../../../bench/scenarios/replay-run.js';
import { makeTrap, type TrapKind } from '../../../bench/scenarios/traps.js';

/** Service profiles per bench seed (bench/judge.ts: PROFILES). */
const PROFILES = 6;

/** The first rollback of that run, or null. */
export function replayTrap(kind: TrapKind, benchSeed: number, seed: number): RollbackSeen | null {
  const trap = makeTrap(kind, suiteProfiles(benchSeed, PROFILES)[seed % PROFILES]!, seed);
  const dir = mkdtempSync(join(tmpdir(), 'umbra-trap-'));
  try {
    return replayForRollback(writeScenario(dir, kind, generate(trap)), 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
