/**
 * A real PostgreSQL server for tests and benchmarks: Debian's `postgresql`
 * package (scripts/setup.ts installs it), a fresh cluster in a temporary data
 * directory, listening on one loopback port, stopped and deleted by `stop()`.
 *
 * NOTE: initdb and postgres refuse to run as root ("cannot be run as root").
 * When the tests run as root, the cluster is made and run as `nobody` through
 * setpriv, in a directory that user owns.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import pg from 'pg';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

const NOBODY = 65_534;

/** The directory of PostgreSQL's programs: `UMBRA_PG_BIN`, else Debian's (the newest major installed); undefined when absent. */
export function postgresBinDir(): string | undefined {
  const given = process.env['UMBRA_PG_BIN'];
  if (given) return existsSync(join(given, 'postgres')) ? given : undefined;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] ? join(root, majors[0], 'bin') : undefined;
}

export interface PostgresServer {
  readonly port: number;
  /** `postgres://umbra@127.0.0.1:PORT/umbra`. */
  readonly url: string;
  /** A URL for another database on this server (see {@link PostgresServer.createDatabase}). */
  urlOf(database: string): string;
  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server (fast shutdown) and keeps its data: the network partition of the tests. */
  halt(): Promise<void>;
  /** Starts a halted server again on the same port and data. */
  resume(): Promise<void>;
  /** Stops the server and deletes its data; idempotent. */
  stop(): Promise<void>;
}

function asUnprivileged(bin: string, args: string[]): { cmd: string; args: string[] } {
  if (process.getuid?.() !== 0) return { cmd: bin, args };
  return {
    cmd: 'setpriv',
    args: [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', bin, ...args],
  };
}

/** Makes a cluster and starts it; fails with one line naming what to install when PostgreSQL is absent. */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (!bin) {
    throw new Error(
      'PostgreSQL not found under /usr/lib/postgresql: run `npm run setup` (apt-get install postgresql)',
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'umbra-pg-'));
  const data = join(dir, 'data');
  const sockets = join(dir, 'run');
  mkdirSync(sockets);
  if (process.getuid?.() === 0) {
    chownSync(dir, NOBODY, NOBODY);
    chownSync(sockets, NOBODY, NOBODY);
  }
  const init = asUnprivileged(join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'umbra',
    '--auth=trust',
    '-E',
    'UTF8',
    '--no-instructions',
  ]);
  const made = spawnSync(init.cmd, init.args, { encoding: 'utf8' });
  if (made.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${made.stderr || made.stdout}`);
  }
  const port = await freePort();
  const urlOf = (db: string) => `postgres://umbra@127.0.0.1:${port}/${db}`;
  let proc: ChildProcess | undefined;
  let log = '';

  const launch = async (): Promise<void> => {
    const run = asUnprivileged(join(bin, 'postgres'), [
      '-D',
      data,
      '-p',
      String(port),
      '-k',
      sockets,
      '-c',
      'listen_addresses=127.0.0.1',
      // Tests throw the cluster away: durability across a machine crash is not under test.
      '-c',
      'fsync=off',
      '-c',
      'max_connections=200',
    ]);
    const child = spawn(run.cmd, run.args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (b: Buffer) => {
      log = (log + b.toString()).slice(-4000);
    });
    proc = child;
    await waitFor(
      `postgres on 127.0.0.1:${port}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`postgres exited ${child.exitCode}: ${log}`);
        const c = new pg.Client({ connectionString: urlOf('postgres'), connectionTimeoutMillis: 1000 });
        try {
          await c.connect();
          await c.query('SELECT 1');
          return true;
        } finally {
          await c.end().catch(() => {});
        }
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  };

  const halt = async (): Promise<void> => {
    const child = proc;
    proc = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGINT');
    await exited;
  };

  await launch();
  const admin = new pg.Client({ connectionString: urlOf('postgres') });
  await admin.connect();
  await admin.query('CREATE DATABASE umbra');
  await admin.end();

  let stopped = false;
  return {
    port,
    url: urlOf('umbra'),
    urlOf,
    async createDatabase(name) {
      const c = new pg.Client({ connectionString: urlOf('postgres') });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
      } finally {
        await c.end();
      }
      return urlOf(name);
    },
    halt,
    resume: launch,
    async stop() {
      if (stopped) return;
      stopped = true;
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One server for the calling test file: started in its `before`, stopped in
 * its `after`. `database()` makes a fresh, empty database and returns its URL.
 */
export function usePostgres(): { server(): PostgresServer; database(): Promise<string> } {
  let server: PostgresServer | undefined;
  let n = 0;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
  });
  const get = (): PostgresServer => {
    if (!server) throw new Error('usePostgres(): the server starts in before()');
    return server;
  };
  return { server: get, database: () => get().createDatabase(`db_${process.pid}_${++n}`) };
}
