// Regenerates filter/assembly/generated/ from proto/ with protoc and as-proto-gen.
// The generated code is committed, so a fresh machine needs no protoc to build
// the filter; run this (`npm run gen`) after changing a .proto file.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'filter', 'assembly', 'generated');
const plugin = join(root, 'node_modules', '.bin', 'as-proto-gen');
const protos = ['umbra/telemetry/v1/telemetry.proto'];

const probe = spawnSync('protoc', ['--version'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) {
  console.error('gen-proto: protoc not found; install it (Debian: apt-get install -y protobuf-compiler)');
  process.exit(1);
}
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const r = spawnSync(
  'protoc',
  [`--plugin=protoc-gen-as=${plugin}`, `--as_out=${out}`, '-I', join(root, 'proto'), ...protos],
  { stdio: 'inherit' },
);
if (r.status !== 0) process.exit(r.status ?? 1);
console.log(`gen-proto: wrote ${out} (${probe.stdout.trim()})`);
