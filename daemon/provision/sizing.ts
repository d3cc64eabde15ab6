/**
 * Shadow sizing: the candidate gets a share of production capacity matching
 * the share of traffic it is sent, with headroom; the baseline arm gets the
 * same size as the candidate so the two compare like for like.
 *
 *   replicas = max(1, ⌈production replicas × shadowPercentage/100 × headroom⌉)
 */
export function shadowReplicas(input: {
  productionReplicas: number;
  shadowPercentage: number;
  headroom: number;
}): number {
  const raw = (input.productionReplicas * input.shadowPercentage * input.headroom) / 100;
  // Round away float noise (e.g. 10 × 10% × 1 = 1.0000000000000002) before taking the ceiling.
  return Math.max(1, Math.ceil(Math.round(raw * 1e9) / 1e9));
}
