/** The judge's public surface. */

export { predictSeconds } from './explain.js';
export { judge, productionUnhealthy } from './judge.js';
export { initialJudgeState } from './scopes.js';
export * from './types.js';
