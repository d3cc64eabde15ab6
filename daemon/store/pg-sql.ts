/** SQL the PostgreSQL store (postgres.ts) builds and reads: numbered parameters, batched upserts, merged cells and histograms. */
import * as hdr from 'hdr-histogram-js';
import { addCell } from '../aggregate/stats.js';
import type { SqlQuery, SqlResult } from './pg-protocol.js';
import type { HistogramRow, StoredCell } from './store.js';

/** Upserts in statements of at most 1000 rows (PostgreSQL takes at most 65535 parameters per statement). */
export function upserts(table: string, columns: string[], conflict: string, rows: unknown[][]): SqlQuery[] {
  const update = columns
    .filter((c) => !conflict.split(', ').includes(c))
    .map((c) => `${c} = EXCLUDED.${c}`)
    .join(', ');
  const out: SqlQuery[] = [];
  for (let start = 0; start < rows.length; start += 1000) {
    const chunk = rows.slice(start, start + 1000);
    const values = chunk.map(
      (_, i) => `(${columns.map((_c, j) => `$${i * columns.length + j + 1}`).join(', ')})`,
    );
    out.push({
      sql: `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${values.join(', ')}
            ON CONFLICT (${conflict}) DO UPDATE SET ${update}`,
      params: chunk.flat(),
    });
  }
  return out;
}

/** A `WHERE` of the conditions whose value is defined, `?` numbered as `$n` in order. */
export function whereOf(conds: [string, unknown][]): { where: string; args: unknown[] } {
  const args: unknown[] = [];
  const parts: string[] = [];
  for (const [sql, v] of conds) {
    if (v === undefined) continue;
    args.push(v);
    parts.push(sql.replace('?', `$${args.length}`));
  }
  return { where: parts.length > 0 ? ` WHERE ${parts.join(' AND ')}` : '', args };
}

/** Adds up consecutive rows of one cell key (rows come ordered by key): one cell per key, as from one daemon. */
export function mergeByKey(rows: StoredCell[]): StoredCell[] {
  const out: StoredCell[] = [];
  for (const r of rows) {
    const last = out[out.length - 1];
    const a = last?.cell.key;
    const b = r.cell.key;
    const same =
      a !== undefined &&
      a.second === b.second &&
      a.service === b.service &&
      a.endpoint === b.endpoint &&
      a.segment === b.segment;
    if (last && same) {
      addCell(last.cell, r.cell);
      last.deploymentId ??= r.deploymentId;
    } else out.push(r);
  }
  return out;
}

/**
 * Adds up consecutive rows of one histogram key (rows come ordered by key,
 * one per daemon): one row per key, its histogram the sum of theirs, as
 * one daemon would have recorded it.
 */
export function mergeHistograms(rows: HistogramRow[]): HistogramRow[] {
  const out: HistogramRow[] = [];
  let sum: hdr.Histogram | undefined;
  const close = (): void => {
    const last = out[out.length - 1];
    if (last && sum) last.encoded = hdr.encodeIntoCompressedBase64(sum);
    sum = undefined;
  };
  for (const r of rows) {
    const last = out[out.length - 1];
    const same =
      last !== undefined &&
      last.minute === r.minute &&
      last.service === r.service &&
      last.endpoint === r.endpoint &&
      last.arm === r.arm;
    if (!same) {
      close();
      out.push({ ...r, count: Number(r.count) });
      continue;
    }
    sum ??= hdr.decodeFromCompressedBase64(last.encoded, 32, false);
    const h = hdr.decodeFromCompressedBase64(r.encoded, 32, false);
    sum.add(h);
    h.destroy();
    last.count += Number(r.count);
  }
  close();
  return out;
}

export function rowsOf<T>(r: SqlResult): T[] {
  return r.rows as T[];
}
