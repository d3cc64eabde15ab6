/**
 * `npm run demo -- --experiments`: after the README demo's story, the
 * experiments on the shadow environment, each in its own module: a chaos
 * experiment under the story's load, then (the load stopped: it drives its
 * own users) an A/B test and an A/A split. The last JSON line is
 * `{"experiments":"done","chaos":{…},"ab":{…}}`.
 */
import { type AbResult, runAbExperiments } from './ab.js';
import { type ChaosDemoContext, type ChaosDemoResult, chaosDemo } from './chaos.js';

export type ExperimentsContext = ChaosDemoContext;

export interface ExperimentsResult {
  experiments: 'done';
  chaos: ChaosDemoResult;
  ab: AbResult;
}

export async function runExperiments(
  ctx: ExperimentsContext,
  stopLoad: () => Promise<void>,
): Promise<ExperimentsResult> {
  const chaos = await chaosDemo(ctx);
  await stopLoad();
  const ab = await runAbExperiments({ client: ctx.client, port: ctx.listenerPort, say: ctx.say });
  return { experiments: 'done', chaos, ab };
}
