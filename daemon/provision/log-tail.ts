/**
 * Reads the lines appended to an instance's log file since the last call.
 *
 * Instances with a log file write to it directly (not through a pipe to the
 * daemon), so their output never depends on the daemon being alive: a
 * process whose pipe reader has died gets EPIPE or SIGPIPE on its next line
 * and usually dies of it. The daemon follows the file instead, from where it
 * ended when the tail was made, and counts error lines from what it reads.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

/** Most bytes read per call; an instance that writes more than this between two calls has the rest skipped. */
const MAX_READ = 4 * 1024 * 1024;
/** A line longer than this (or never ended) is cut here. */
const MAX_LINE = 64 * 1024;

export class LogTail {
  readonly #path: string;
  #offset: number;
  #partial = '';
  #decoder = new StringDecoder('utf8');

  constructor(path: string) {
    this.#path = path;
    this.#offset = sizeOf(path) ?? 0;
  }

  /** The complete lines appended since the previous call (none when the file is missing). */
  read(): string[] {
    const size = sizeOf(this.#path);
    if (size === undefined) return [];
    if (size < this.#offset) this.#restart(0); // truncated (copytruncate rotation): start over
    if (size - this.#offset > MAX_READ) this.#restart(size - MAX_READ);
    if (size === this.#offset) return [];
    const buf = Buffer.allocUnsafe(size - this.#offset);
    let fd: number;
    try {
      fd = openSync(this.#path, 'r');
    } catch {
      return [];
    }
    let got = 0;
    try {
      for (let i = 0; i < 64 && got < buf.length; i++) {
        const n = readSync(fd, buf, got, buf.length - got, this.#offset + got);
        if (n === 0) break;
        got += n;
      }
    } finally {
      closeSync(fd);
    }
    this.#offset += got;
    const parts = (this.#partial + this.#decoder.write(buf.subarray(0, got))).split('\n');
    this.#partial = parts.pop() ?? '';
    if (this.#partial.length > MAX_LINE) {
      parts.push(this.#partial.slice(0, MAX_LINE));
      this.#partial = '';
    }
    return parts.map((l) => (l.length > MAX_LINE ? l.slice(0, MAX_LINE) : l.replace(/\r$/, '')));
  }

  #restart(offset: number): void {
    this.#offset = offset;
    this.#partial = '';
    this.#decoder = new StringDecoder('utf8');
  }
}

function sizeOf(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}
