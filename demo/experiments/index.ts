/**
 * `npm run demo -- --experiments`: after the README demo's story, the
 * experiments on the shadow environment, each in its own module; the last
 * JSON line is `{"experiments":"done", "chaos":{…}, …}`.
 */
import { type ChaosDemoContext, type ChaosDemoResult, chaosDemo } from './chaos.js';

export type ExperimentsContext = ChaosDemoContext;

export interface ExperimentsResult {
  experiments: 'done';
  chaos: ChaosDemoResult;
}

export async function runExperiments(ctx: ExperimentsContext): Promise<ExperimentsResult> {
  const chaos = await chaosDemo(ctx);
  return { experiments: 'done', chaos };
}
