/**
 * Runs one call of an `exec` provisioner's command and collects what it did:
 * exit code or signal, stdout (capped), the last lines of stderr, and whether
 * it was killed for running past its timeout.
 *
 * The command leads a process group of its own (it is spawned detached), so a
 * command that hangs is stopped with everything it started in that group:
 * SIGTERM to the group at its timeout, SIGKILL to the group after a grace
 * period. A command that exits normally is never signalled, nor is anything
 * it left running: a local script may start servers that outlive it (they
 * must not hold the command's stdout or stderr open, or the call only ends at
 * its timeout).
 */
import { spawn } from 'node:child_process';

/** Most bytes of stdout kept; a command that prints more is stopped and its call fails. */
export const MAX_STDOUT_BYTES = 1024 * 1024;
const STDERR_LINES = 20;
const STDERR_LINE_CHARS = 500;
/** After SIGKILL, how long to wait for the pipes to close before giving up on them. */
const CLOSE_WAIT_MS = 2000;

export interface CommandSpec {
  argv: string[];
  env: Record<string, string>;
  cwd?: string;
  timeoutMs: number;
  /** Between SIGTERM and SIGKILL to the process group once the timeout has passed. */
  killGraceMs: number;
}

export interface CommandResult {
  /** Exit code, when it exited. */
  code: number | null;
  /** The signal that ended it, when one did (ours after a timeout, or another's). */
  signal: NodeJS.Signals | null;
  /** It ran past its timeout and was killed with its process group. */
  timedOut: boolean;
  /** It printed more than {@link MAX_STDOUT_BYTES} and was killed with its process group. */
  overflow: boolean;
  /** It could not be started at all (ENOENT, EACCES, …). */
  spawnError?: string;
  stdout: string;
  stderrTail: string[];
  /** Wall time of the call. */
  ms: number;
}

/** Runs the command to its end (bounded by its timeout); never rejects. */
export function runCommand(spec: CommandSpec): Promise<CommandResult> {
  const started = Date.now();
  const [program, ...args] = spec.argv;
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    let outBytes = 0;
    let errRest = '';
    const errTail: string[] = [];
    let timedOut = false;
    let overflow = false;
    let done = false;
    let killing = false;
    const timers: NodeJS.Timeout[] = [];
    const child = spawn(program!, args, {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const finish = (r: Partial<CommandResult>) => {
      if (done) return;
      done = true;
      for (const t of timers) clearTimeout(t);
      pushErr(true);
      resolve({
        code: child.exitCode,
        signal: child.signalCode,
        timedOut,
        overflow,
        stdout: Buffer.concat(out).toString('utf8'),
        stderrTail: errTail,
        ms: Date.now() - started,
        ...r,
      });
    };
    const pushErr = (flush: boolean) => {
      const lines = errRest.split('\n');
      errRest = flush ? '' : (lines.pop() ?? '');
      for (const l of lines) {
        const line = l.replace(/\r$/, '').slice(0, STDERR_LINE_CHARS);
        if (line.trim() === '') continue;
        errTail.push(line);
        if (errTail.length > STDERR_LINES) errTail.shift();
      }
    };
    // Stops the whole group: SIGTERM now, SIGKILL after the grace period, then stops waiting for the pipes.
    const kill = () => {
      if (killing) return;
      killing = true;
      signalGroup(child.pid, 'SIGTERM');
      timers.push(
        setTimeout(() => signalGroup(child.pid, 'SIGKILL'), spec.killGraceMs),
        setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          finish({});
        }, spec.killGraceMs + CLOSE_WAIT_MS),
      );
    };
    child.stdout?.on('data', (d: Buffer) => {
      if (overflow) return;
      outBytes += d.length;
      if (outBytes > MAX_STDOUT_BYTES) {
        overflow = true;
        kill();
        return;
      }
      out.push(d);
    });
    child.stderr?.on('data', (d: Buffer) => {
      errRest += d.toString('utf8');
      if (errRest.length > 64 * 1024) errRest = errRest.slice(-64 * 1024);
      pushErr(false);
    });
    child.on('error', (err) => {
      // Only a failure to start ends the call here; a kill that fails later is not one.
      if (child.pid === undefined) finish({ spawnError: err.message });
    });
    child.on('close', () => finish({}));
    timers.push(
      setTimeout(() => {
        timedOut = true;
        kill();
      }, spec.timeoutMs),
    );
  });
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}
