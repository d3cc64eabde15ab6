/**
 * The PostgreSQL server the shared-store tests, `bench:failover` and the
 * high-availability setup use: Debian's `postgresql`, installed by
 * `npm run setup` when missing (apt-get, as root). The tests start their own
 * server from its programs in a temporary directory (test/harness/postgres.ts);
 * the package's own cluster service is not needed.
 */
import { postgresBinDir } from '../test/harness/postgres.js';
import { aptInstall } from './apt.js';

const MISSING =
  "umbra setup: no PostgreSQL under /usr/lib/postgresql: the shared-store tests and bench:failover need it; install Debian's postgresql (as root: apt-get install -y postgresql) or set UMBRA_PG_BIN to its bin directory";

/** Installs Debian's postgresql when missing and this process is root; returns null when it is there afterwards, else the line to print. */
export function ensurePostgres(): string | null {
  if (postgresBinDir()) return null;
  if (process.env['UMBRA_PG_BIN'] || process.getuid?.() !== 0) return MISSING;
  console.log('umbra setup: installing postgresql with apt-get (for the shared-store tests) ...');
  const r = aptInstall('postgresql');
  if (!r.ok) return `${MISSING} (apt-get ${r.step} failed)`;
  return postgresBinDir() ? null : MISSING;
}
