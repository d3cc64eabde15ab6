/**
 * Interning of names into small integers so the hot path works on numbers:
 *  - a *series* is one service × endpoint × segment (one CellStats key minus
 *    the second);
 *  - an *endpoint* is one service × endpoint (tail thresholds, histograms);
 *  - a *cluster* is an upstream cluster name (live records).
 * Ids are dense from 0 and never reused. The number of series is capped:
 * {@link SeriesRegistry.series} returns -1 beyond the cap (the caller counts
 * and drops), so no structure grows without bound.
 */
export class SeriesRegistry {
  /** Per series. */
  readonly serviceOf: string[] = [];
  readonly endpointNameOf: string[] = [];
  readonly segmentOf: string[] = [];
  readonly endpointOf: number[] = [];
  /** Per endpoint. */
  readonly endpointService: string[] = [];
  readonly endpointName: string[] = [];
  /** Per cluster. */
  readonly clusterName: string[] = [];

  private readonly seriesIds = new Map<string, number>();
  private readonly endpointIds = new Map<string, number>();
  private readonly clusterIds = new Map<string, number>();

  constructor(
    readonly maxSeries = 20_000,
    readonly maxClusters = 10_000,
  ) {}

  get seriesCount(): number {
    return this.serviceOf.length;
  }

  get endpointCount(): number {
    return this.endpointName.length;
  }

  /** The id of service × endpoint × segment, or -1 when the cap is reached. */
  series(service: string, endpoint: string, segment: string): number {
    const key = `${service}\u0000${endpoint}\u0000${segment}`;
    const known = this.seriesIds.get(key);
    if (known !== undefined) return known;
    if (this.serviceOf.length >= this.maxSeries) return -1;
    const id = this.serviceOf.length;
    this.serviceOf.push(service);
    this.endpointNameOf.push(endpoint);
    this.segmentOf.push(segment);
    this.endpointOf.push(this.endpoint(service, endpoint));
    this.seriesIds.set(key, id);
    return id;
  }

  /** The id of a known service × endpoint × segment, or -1; never adds one. */
  knownSeries(service: string, endpoint: string, segment: string): number {
    return this.seriesIds.get(`${service}\u0000${endpoint}\u0000${segment}`) ?? -1;
  }

  /** The id of a known cluster name, or -1; never adds one. */
  knownCluster(name: string): number {
    return this.clusterIds.get(name) ?? -1;
  }

  /** The id of a cluster name, or -1 when the cap is reached. */
  cluster(name: string): number {
    const known = this.clusterIds.get(name);
    if (known !== undefined) return known;
    if (this.clusterName.length >= this.maxClusters) return -1;
    const id = this.clusterName.length;
    this.clusterName.push(name);
    this.clusterIds.set(name, id);
    return id;
  }

  /** The id of service × endpoint, added when new (endpoints come with series, which are capped). */
  endpoint(service: string, endpoint: string): number {
    const key = `${service}\u0000${endpoint}`;
    const known = this.endpointIds.get(key);
    if (known !== undefined) return known;
    const id = this.endpointName.length;
    this.endpointService.push(service);
    this.endpointName.push(endpoint);
    this.endpointIds.set(key, id);
    return id;
  }
}
