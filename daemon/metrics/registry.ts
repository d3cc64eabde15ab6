/**
 * Prometheus text exposition (format 0.0.4) from collectors. The hot path
 * keeps plain number counters in its own objects; collectors read them only
 * when /metrics is scraped, so metrics cost nothing per record.
 *
 *   registry.register(() => [
 *     { name: 'umbra_records_total', help: '…', type: 'counter', samples: [{ value: n }] },
 *   ]);
 */

export interface Sample {
  labels?: Record<string, string | number>;
  value: number;
}

export interface MetricFamily {
  /** `umbra_…`; counters end in `_total`. */
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: Sample[];
}

export type Collector = () => MetricFamily[];

/** NOTE: label values escape backslash, double quote and newline (Prometheus text format 0.0.4). */
function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

export class MetricsRegistry {
  private readonly collectors: Collector[] = [];

  /** Adds a collector; returns a function that removes it. */
  register(c: Collector): () => void {
    this.collectors.push(c);
    return () => {
      const i = this.collectors.indexOf(c);
      if (i >= 0) this.collectors.splice(i, 1);
    };
  }

  /** The exposition text; families with the same name from several collectors are merged. */
  render(): string {
    const families = new Map<string, MetricFamily>();
    for (const c of this.collectors) {
      for (const f of c()) {
        const known = families.get(f.name);
        if (known) known.samples.push(...f.samples);
        else families.set(f.name, { ...f, samples: [...f.samples] });
      }
    }
    const out: string[] = [];
    for (const f of families.values()) {
      out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`);
      out.push(`# TYPE ${f.name} ${f.type}`);
      for (const s of f.samples) {
        const labels = s.labels
          ? Object.entries(s.labels)
              .map(([k, v]) => `${k}="${escapeLabel(String(v))}"`)
              .join(',')
          : '';
        out.push(`${f.name}${labels ? `{${labels}}` : ''} ${formatValue(s.value)}`);
      }
    }
    return out.join('\n') + '\n';
  }
}

/** A family with one unlabelled sample. */
export function single(name: string, help: string, type: MetricFamily['type'], value: number): MetricFamily {
  return { name, help, type, samples: [{ value }] };
}

/** A family with one sample per key of `values`, labelled `label`. */
export function byLabel(
  name: string,
  help: string,
  type: MetricFamily['type'],
  label: string,
  values: Record<string, number>,
): MetricFamily {
  return {
    name,
    help,
    type,
    samples: Object.entries(values).map(([k, value]) => ({ labels: { [label]: k }, value })),
  };
}
