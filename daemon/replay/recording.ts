/**
 * The recording format written by `umbra daemon --record FILE` and read by
 * `umbra replay FILE` (docs/replay-format.md):
 *
 *   header  8 bytes  "UMBRAREC"
 *           4 bytes  format version, uint32 LE (1)
 *   frames  1 byte   kind: 1 = batch, 2 = stream opened, 3 = stream closed,
 *                    4 = metadata (JSON: the pipeline's timing options; first frame)
 *           4 bytes  stream id, uint32 LE (per daemon run; a reconnect is a new id)
 *           8 bytes  arrival time, Unix µs, float64 LE
 *           4 bytes  payload length, uint32 LE (0 unless kind = 1)
 *           n bytes  payload: the Batch exactly as received (even if malformed)
 *
 * Frames are appended in arrival order. A file cut short (the daemon was
 * killed mid-write) ends at the last complete frame; the reader reports it.
 */
import { closeSync, fchmodSync, openSync, readSync, writeSync } from 'node:fs';

export const MAGIC = 'UMBRAREC';
export const FORMAT_VERSION = 1;
export const FRAME_HEADER = 17;
export const HEADER_BYTES = 12;

export const FRAME_BATCH = 1;
export const FRAME_OPEN = 2;
export const FRAME_CLOSE = 3;
export const FRAME_META = 4;

/** What the metadata frame says: enough to replay with the daemon's exact settings. */
export interface RecordingMeta {
  /** Effective pipeline options of the recording daemon (see createPipeline). */
  pipeline?: Record<string, unknown>;
}

/** The metadata of a recording, when its first frame is one (else undefined). */
export function readRecordingMeta(path: string): RecordingMeta | undefined {
  let meta: RecordingMeta | undefined;
  let first = true;
  try {
    readRecording(path, (f) => {
      if (first && f.kind === FRAME_META)
        meta = JSON.parse(Buffer.from(f.payload).toString('utf8')) as RecordingMeta;
      first = false;
      throw STOP;
    });
  } catch (err) {
    if (err !== STOP) throw err;
  }
  return meta;
}

const STOP = new Error('stop');

export interface Frame {
  kind: number;
  streamId: number;
  arrivalUs: number;
  /** Valid until the next frame is read (a view into the reader's buffer). */
  payload: Uint8Array;
}

/**
 * Appends frames to a file, buffered; `flush()` writes what is buffered
 * (call it on a timer), `close()` flushes and closes. Write errors are
 * thrown to the caller (the daemon logs them and stops recording).
 */
export class RecordingWriter {
  private readonly fd: number;
  private buf = Buffer.allocUnsafe(1 << 20);
  private len = 0;
  bytesWritten = 0;
  frames = 0;

  constructor(path: string) {
    // Every record the proxies sent: as private as the store (0600).
    this.fd = openSync(path, 'w', 0o600);
    fchmodSync(this.fd, 0o600); // the mode above applies only to a file this call creates
    const header = Buffer.alloc(HEADER_BYTES);
    header.write(MAGIC, 0, 'latin1');
    header.writeUInt32LE(FORMAT_VERSION, 8);
    writeSync(this.fd, header);
    this.bytesWritten = HEADER_BYTES;
  }

  write(kind: number, streamId: number, arrivalUs: number, payload?: Uint8Array): void {
    const n = payload ? payload.length : 0;
    if (this.len + FRAME_HEADER + n > this.buf.length) {
      this.flush();
      if (FRAME_HEADER + n > this.buf.length) this.buf = Buffer.allocUnsafe(FRAME_HEADER + n);
    }
    const b = this.buf;
    let o = this.len;
    b[o] = kind;
    b.writeUInt32LE(streamId >>> 0, o + 1);
    b.writeDoubleLE(arrivalUs, o + 5);
    b.writeUInt32LE(n, o + 13);
    o += FRAME_HEADER;
    if (payload) b.set(payload, o);
    this.len = o + n;
    this.frames++;
  }

  flush(): void {
    let off = 0;
    while (off < this.len) off += writeSync(this.fd, this.buf, off, this.len - off);
    this.bytesWritten += this.len;
    this.len = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/** True when the first bytes are a recording's header. */
export function isRecording(head: Uint8Array): boolean {
  return (
    head.length >= MAGIC.length && Buffer.from(head.subarray(0, MAGIC.length)).toString('latin1') === MAGIC
  );
}

export type ReadResult = { frames: number; truncated: boolean };

/**
 * Reads a recording frame by frame with bounded memory (chunked reads).
 * `onFrame` sees each frame; the payload view is only valid during the call.
 * Throws on a bad header or an unknown version.
 */
export function readRecording(path: string, onFrame: (f: Frame) => void): ReadResult {
  const fd = openSync(path, 'r');
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    const got = readSync(fd, header, 0, HEADER_BYTES, 0);
    if (got < HEADER_BYTES || !isRecording(header)) throw new Error(`${path}: not an umbra recording`);
    const version = header.readUInt32LE(8);
    if (version !== FORMAT_VERSION) throw new Error(`${path}: recording format ${version} is not supported`);
    let buf = Buffer.allocUnsafe(1 << 20);
    let start = 0;
    let end = 0;
    let filePos = HEADER_BYTES;
    let eof = false;
    let frames = 0;
    const frame: Frame = { kind: 0, streamId: 0, arrivalUs: 0, payload: buf };
    const fill = (need: number): boolean => {
      while (end - start < need && !eof) {
        if (start > 0) {
          buf.copy(buf, 0, start, end);
          end -= start;
          start = 0;
        }
        if (need > buf.length) {
          const bigger = Buffer.allocUnsafe(Math.max(need, buf.length * 2));
          buf.copy(bigger, 0, 0, end);
          buf = bigger;
        }
        const n = readSync(fd, buf, end, buf.length - end, filePos);
        if (n === 0) eof = true;
        end += n;
        filePos += n;
      }
      return end - start >= need;
    };
    for (;;) {
      if (!fill(FRAME_HEADER)) return { frames, truncated: end - start > 0 };
      const kind = buf[start]!;
      const n = buf.readUInt32LE(start + 13);
      if (!fill(FRAME_HEADER + n)) return { frames, truncated: true };
      frame.kind = kind;
      frame.streamId = buf.readUInt32LE(start + 1);
      frame.arrivalUs = buf.readDoubleLE(start + 5);
      frame.payload = buf.subarray(start + FRAME_HEADER, start + FRAME_HEADER + n);
      start += FRAME_HEADER + n;
      frames++;
      onFrame(frame);
    }
  } finally {
    closeSync(fd);
  }
}
