/** SQL the PostgreSQL store (postgres.ts) builds and reads: numbered parameters, batched upserts, merged cells. */
import { addCell } from '../aggregate/stats.js';
import type { SqlQuery, SqlResult } from './pg-protocol.js';
import type { StoredCell } from './store.js';

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

export function rowsOf<T>(r: SqlResult): T[] {
  return r.rows as T[];
}
