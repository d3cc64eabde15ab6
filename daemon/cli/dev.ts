// Development entry: `node --import tsx daemon/cli/dev.ts <args>` runs the CLI
// from source without a build.
import { runCli } from './main.js';

process.exitCode = await runCli(process.argv.slice(2));
