/**
 * One instance of a `process` version: a child process with its own PORT,
 * health-checked over HTTP, restarted with backoff when it exits on its own,
 * its output scanned line by line for errors.
 *
 * The child runs in its own process group so that stopping it also stops
 * what it started (`npm start` → node); only that group is signalled.
 *
 * With a log file, the child writes to that file itself and the daemon reads
 * it back (log-tail.ts): the child never holds a pipe to the daemon, so it
 * outlives a daemon that dies. Without one, its output comes through pipes.
 *
 * An instance may also be adopted: a process a previous daemon started
 * (adopt.ts). It is checked, measured and stopped like a child, but its exit
 * cannot be observed, so each health check looks it up in /proc; once it has
 * gone it is replaced by a child of ours, as a child that exits is restarted.
 *
 * Health: one answered probe makes an instance healthy; a healthy one turns
 * unhealthy after two failed probes in a row (probe.ts nextHealth: one probe
 * lost to a busy machine is not evidence), or at once when its process is
 * gone. Each change of health it makes on its own (not by `stop`) is reported
 * to `onHealthChange`, so that routing can follow without waiting for another
 * reason to publish.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { logger } from '../log.js';
import { isRunning, type ProcessIdentity, stopProcess } from './adopt.js';
import { LogTail } from './log-tail.js';
import { nextHealth, type ProbedHealth, probeHttp } from './probe.js';
import { CpuSampler, rssBytes } from './proc-stats.js';
import type { InstanceStatus } from './provisioner.js';

const log = logger('provision');

export interface InstanceSpec {
  command: string[];
  env: Record<string, string>;
  cwd?: string;
  host: string;
  port: number;
  healthPath: string;
  errorPattern: RegExp;
  /** When set, the instance appends its output to this file itself. */
  logFile?: string;
}

export interface InstanceTiming {
  healthTimeoutMs: number;
  restartBackoffMs: number;
  maxBackoffMs: number;
  graceMs: number;
}

const TAIL_LINES = 20;
const WINDOW_MS = 60_000;

export class ProcessInstance {
  readonly index: number;
  readonly spec: InstanceSpec;
  readonly #timing: InstanceTiming;
  readonly #onHealthChange: (healthy: boolean) => void;
  #child: ChildProcess | undefined;
  /** A process a previous daemon started, while it runs; never set together with a live #child. */
  #adopted: ProcessIdentity | undefined;
  #stopping = false;
  #restartTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #health: ProbedHealth | undefined;
  #restarts = 0;
  #errorLines = 0;
  readonly #errorTimes: number[] = [];
  readonly #tail: string[] = [];
  readonly #cpu = new CpuSampler();
  #cpuPercent: number | undefined;
  readonly #logTail: LogTail | undefined;
  #lastExit: string | undefined;
  /** The running child writes to pipes to us (no log file): it cannot outlive this daemon. */
  #piped = false;

  constructor(
    index: number,
    spec: InstanceSpec,
    timing: InstanceTiming,
    onHealthChange: (healthy: boolean) => void = () => undefined,
  ) {
    this.index = index;
    this.spec = spec;
    this.#timing = timing;
    this.#onHealthChange = onHealthChange;
    // Follows the file from its current end: earlier runs' lines are not this instance's.
    if (spec.logFile) this.#logTail = new LogTail(spec.logFile);
  }

  get healthy(): boolean {
    return this.#health?.healthy ?? false;
  }

  /** Sets the health (undefined: not probed since it (re)started, so not healthy); reports a change. */
  #setHealth(health: ProbedHealth | undefined): void {
    const was = this.healthy;
    this.#health = health;
    if (this.healthy !== was && !this.#stopping) this.#onHealthChange(this.healthy);
  }

  get pid(): number | undefined {
    return this.#adopted?.pid ?? this.#child?.pid;
  }

  /** The last lines of output and how it last exited, for error messages. */
  diagnosis(): string {
    const exit = this.#lastExit ? `${this.#lastExit}; ` : '';
    return `${exit}last output: ${this.#tail.slice(-3).join(' | ') || '(none)'}`;
  }

  start(): void {
    const [program, ...args] = this.spec.command;
    const out = this.spec.logFile ? openLog(this.spec.logFile) : undefined;
    let child: ChildProcess;
    try {
      child = spawn(program!, args, {
        cwd: this.spec.cwd,
        env: { ...process.env, ...this.spec.env, PORT: String(this.spec.port) },
        stdio: out === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', out, out],
        detached: true,
      });
    } finally {
      // The child has its own copy of the descriptor once spawned.
      if (out !== undefined) closeSync(out);
    }
    this.#child = child;
    this.#piped = out === undefined;
    this.#setHealth(undefined);
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (line) => this.#onLine(line));
    }
    child.on('error', (err) => {
      this.#lastExit = `could not start: ${err.message}`;
    });
    child.on('exit', (code, signal) => this.#onExit(child, code, signal));
  }

  /** Takes over a running process that a previous daemon started as this instance (instead of `start`). */
  adopt(id: ProcessIdentity): void {
    this.#adopted = id;
    this.#setHealth(undefined);
  }

  /** One HTTP health check; updates `healthy`, and samples CPU. */
  async check(now: number): Promise<boolean> {
    this.#readLog();
    if (this.#adopted && !isRunning(this.#adopted)) this.#onAdoptedGone();
    const pid = this.#livePid();
    if (pid === undefined) {
      this.#setHealth(undefined);
      return false;
    }
    this.#cpuPercent = this.#cpu.sample(pid, now);
    const ok = await this.#probe();
    // The process exited (or was replaced) while the probe ran: its exit has decided already.
    if (this.#livePid() !== pid || this.#stopping) return false;
    this.#setHealth(nextHealth(this.#health, ok));
    if (ok) this.#failures = 0;
    return ok;
  }

  /** The pid of the process while it runs (an adopted one: as last looked up). */
  #livePid(): number | undefined {
    if (this.#adopted) return this.#adopted.pid;
    const child = this.#child;
    return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
  }

  status(now: number): InstanceStatus {
    while (this.#errorTimes.length > 0 && this.#errorTimes[0]! < now - WINDOW_MS) this.#errorTimes.shift();
    const pid = this.pid;
    const rss = pid === undefined ? undefined : rssBytes(pid);
    return {
      index: this.index,
      endpoint: { host: this.spec.host, port: this.spec.port },
      healthy: this.healthy,
      ...(pid === undefined ? {} : { pid }),
      restarts: this.#restarts,
      ...(this.#cpuPercent === undefined ? {} : { cpuPercent: Math.round(this.#cpuPercent * 10) / 10 }),
      ...(rss === undefined ? {} : { rssBytes: rss }),
      errorLines: this.#errorLines,
      errorLinesPerMinute: this.#errorTimes.length,
    };
  }

  /**
   * SIGTERM to the process group, SIGKILL after the grace period; resolves when it has exited
   * (for an adopted process: when it has gone from /proc, or a while after SIGKILL at most).
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    this.#setHealth(undefined);
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      signalGroup(child.pid, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), this.#timing.graceMs);
      await exited;
      clearTimeout(timer);
    }
    const adopted = this.#adopted;
    if (adopted && !(await stopProcess(adopted, true, this.#timing.graceMs)))
      log.warn('adopted instance still running after SIGKILL', { port: this.spec.port, pid: adopted.pid });
    this.#readLog();
  }

  /**
   * Stops watching and leaves the process running, for the next daemon to
   * adopt. Returns false (and changes nothing) when it cannot outlive this
   * daemon: its output comes through pipes to us.
   */
  release(): boolean {
    if (this.#piped) return false;
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    // The child must not keep this daemon's event loop alive.
    this.#child?.unref();
    return true;
  }

  #onAdoptedGone(): void {
    this.#adopted = undefined;
    this.#setHealth(undefined);
    // Not our child: nobody tells us how it ended.
    this.#lastExit = 'the adopted process exited';
    if (!this.#stopping) this.#restartLater();
  }

  #readLog(): void {
    if (this.#logTail) for (const line of this.#logTail.read()) this.#onLine(line);
  }

  #onLine(line: string): void {
    this.#tail.push(line);
    if (this.#tail.length > TAIL_LINES) this.#tail.shift();
    if (this.spec.errorPattern.test(line)) {
      this.#errorLines++;
      this.#errorTimes.push(Date.now());
      if (this.#errorTimes.length > 100_000) this.#errorTimes.shift();
    }
  }

  #onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.#child) return;
    this.#setHealth(undefined);
    this.#lastExit = signal ? `killed by ${signal}` : `exited with code ${code}`;
    if (!this.#stopping) this.#restartLater();
  }

  #restartLater(): void {
    const delay = Math.min(this.#timing.maxBackoffMs, this.#timing.restartBackoffMs * 2 ** this.#failures);
    this.#failures++;
    log.warn('instance exited; restarting', { port: this.spec.port, exit: this.#lastExit, delayMs: delay });
    this.#restartTimer = setTimeout(() => {
      if (this.#stopping) return;
      this.#restarts++;
      this.start();
    }, delay);
  }

  #probe(): Promise<boolean> {
    return probeHttp(
      { host: this.spec.host, port: this.spec.port },
      this.spec.healthPath,
      this.#timing.healthTimeoutMs,
    );
  }
}

/** An append-only descriptor for the child's stdout and stderr; undefined (pipes instead) if it cannot be opened. */
function openLog(path: string): number | undefined {
  try {
    return openSync(path, 'a');
  } catch (err) {
    log.warn('cannot open instance log; reading output through pipes', {
      path,
      error: (err as Error).message,
    });
    return undefined;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}
