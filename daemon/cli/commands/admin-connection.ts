/**
 * How the CLI finds and authenticates to the daemon's admin API, shared by
 * every command that talks to it:
 *   address  --admin HOST:PORT, else $UMBRA_ADMIN, else 127.0.0.1:7070
 *   token    --token, else $UMBRA_ADMIN_TOKEN, else --token-file, else .umbra/admin.token
 *   TLS      --tls-ca FILE (or --tls for the system's roots)
 */
import { existsSync } from 'node:fs';
import { status as grpcStatus } from '@grpc/grpc-js';
import { AdminCallError, AdminClient } from '../../admin/client.js';
import { readAdminToken } from '../../admin/token.js';
import type { FlagSpec, Parsed } from '../args.js';
import { UsageError } from '../command.js';

export const ADMIN_FLAGS: FlagSpec = {
  admin: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  tls: { type: 'boolean' },
  'tls-ca': { type: 'string' },
  output: { type: 'string', short: 'o' },
};

/** Lines for a command's usage text. */
export const ADMIN_FLAGS_USAGE = [
  '  -o json|text        output format (default text)',
  '  --admin HOST:PORT   admin API address (default $UMBRA_ADMIN or 127.0.0.1:7070)',
  '  --token TOKEN       admin token (default $UMBRA_ADMIN_TOKEN or the token file)',
  '  --token-file FILE   file holding the token (default .umbra/admin.token)',
  '  --tls / --tls-ca F  connect with TLS (system roots / this CA)',
];

const DEFAULT_TOKEN_FILE = '.umbra/admin.token';

export function connect(flags: Parsed['flags']): AdminClient {
  const address = (flags['admin'] as string | undefined) ?? process.env['UMBRA_ADMIN'] ?? '127.0.0.1:7070';
  const token =
    (flags['token'] as string | undefined) ?? process.env['UMBRA_ADMIN_TOKEN'] ?? tokenFromFile(flags);
  const ca = flags['tls-ca'] as string | undefined;
  return new AdminClient({
    address,
    token,
    ...(ca ? { tlsCaFile: ca } : flags['tls'] ? { tlsCaFile: '' } : {}),
    onReconnect: (message) => console.error(`umbra: ${message}`),
  });
}

function tokenFromFile(flags: Parsed['flags']): string {
  const file = (flags['token-file'] as string | undefined) ?? DEFAULT_TOKEN_FILE;
  if (!existsSync(file)) {
    throw new UsageError(
      `no admin token: pass --token, set UMBRA_ADMIN_TOKEN, or point --token-file at the daemon's (${file} not found)`,
    );
  }
  return readAdminToken(file);
}

/**
 * Runs `fn` with a client; a refused call prints its message (as
 * `{"ok":false,"code":…,"error":…}` with -o json) and exits 1.
 */
export async function withAdmin(
  flags: Parsed['flags'],
  json: boolean,
  fn: (c: AdminClient) => Promise<number>,
): Promise<number> {
  const client = connect(flags);
  try {
    return await fn(client);
  } catch (err) {
    if (!(err instanceof AdminCallError)) throw err;
    if (json)
      console.log(JSON.stringify({ ok: false, code: grpcStatus[err.code] ?? err.code, error: err.message }));
    else console.error(`umbra: ${err.message}`);
    return 1;
  } finally {
    client.close();
  }
}
