#!/usr/bin/env node
// The `umbra` command. Runs the compiled CLI from dist/ (npm run build).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/daemon/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  console.error('umbra: not built yet; run `npm run build` in the checkout');
  process.exit(1);
}
const { runCli } = await import(main);
process.exitCode = await runCli(process.argv.slice(2));
