/**
 * One A/A trap run of bench:judge, rebuilt with the bench's own generator and
 * replayed as `umbra replay` does (the built-in model, t = 2): the run that
 * `node --import tsx bench/judge.ts --only traps --seed BENCH_SEED` numbers
 * `seed`, judged without history; or any scenario of the bench's generator.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  generate,
  type Scenario,
  type ServiceProfile,
  suiteProfiles,
} from '../../../bench/scenarios/generator.js';
import { type RollbackSeen, replayForRollback, writeScenario } from '../../../bench/scenarios/replay-run.js';
import { makeTrap, type TrapKind } from '../../../bench/scenarios/traps.js';

/** Service profiles per bench seed (bench/judge.ts: PROFILES). */
const PROFILES = 6;

/** The first rollback of that run, or null. */
export function replayTrap(kind: TrapKind, benchSeed: number, seed: number): RollbackSeen | null {
  return replayScenario(makeTrap(kind, suiteProfiles(benchSeed, PROFILES)[seed % PROFILES]!, seed));
}

/** The first rollback of a generated scenario replayed as `umbra replay FILE` does (built-in model, t = 2), or null. */
export function replayScenario(s: Scenario): RollbackSeen | null {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-trap-'));
  try {
    return replayForRollback(writeScenario(dir, s.kind, generate(s)), 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The profile bench:judge builds as service `index` under `--seed benchSeed`. */
export function benchProfile(benchSeed: number, index: number): ServiceProfile {
  return suiteProfiles(benchSeed, PROFILES)[index]!;
}
