import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  FRAME_BATCH,
  FRAME_CLOSE,
  FRAME_OPEN,
  isRecording,
  RecordingWriter,
  readRecording,
} from '../../../daemon/replay/recording.js';

const dir = mkdtempSync(join(tmpdir(), 'umbra-rec-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function collect(path: string) {
  const frames: { kind: number; streamId: number; arrivalUs: number; payload: string }[] = [];
  const r = readRecording(path, (f) =>
    frames.push({
      kind: f.kind,
      streamId: f.streamId,
      arrivalUs: f.arrivalUs,
      payload: Buffer.from(f.payload).toString('hex'),
    }),
  );
  return { list: frames, truncated: r.truncated, count: r.frames };
}

test('frames round-trip in order, including large and empty payloads', () => {
  const path = join(dir, 'a.rec');
  const w = new RecordingWriter(path);
  const big = Buffer.alloc(3 << 20, 7); // larger than the writer's and reader's buffers
  w.write(FRAME_OPEN, 1, 1_732_700_000_000_001);
  w.write(FRAME_BATCH, 1, 1_732_700_000_000_002, Buffer.from('abc'));
  w.write(FRAME_BATCH, 4_000_000_000, 1_732_700_000_000_003, big);
  w.write(FRAME_BATCH, 1, 1_732_700_000_000_004, new Uint8Array(0));
  w.write(FRAME_CLOSE, 1, 1_732_700_000_000_005);
  w.close();
  assert.ok(isRecording(readFileSync(path).subarray(0, 8)));
  const { list: frames, truncated } = collect(path);
  assert.equal(truncated, false);
  assert.deepEqual(
    frames.map((f) => [f.kind, f.streamId, f.arrivalUs]),
    [
      [FRAME_OPEN, 1, 1_732_700_000_000_001],
      [FRAME_BATCH, 1, 1_732_700_000_000_002],
      [FRAME_BATCH, 4_000_000_000, 1_732_700_000_000_003],
      [FRAME_BATCH, 1, 1_732_700_000_000_004],
      [FRAME_CLOSE, 1, 1_732_700_000_000_005],
    ],
  );
  assert.equal(frames[1]!.payload, Buffer.from('abc').toString('hex'));
  assert.equal(frames[2]!.payload, big.toString('hex'));
  assert.equal(frames[3]!.payload, '');
});

test('a recording is readable by its owner only, also when it replaces an older file', () => {
  const path = join(dir, 'private.rec');
  writeFileSync(path, 'old', { mode: 0o644 });
  const w = new RecordingWriter(path);
  w.close();
  assert.equal(statSync(path).mode & 0o777, 0o600);
});

test('a file cut mid-frame yields the complete frames and says it was truncated', () => {
  const path = join(dir, 'b.rec');
  const w = new RecordingWriter(path);
  w.write(FRAME_BATCH, 1, 10, Buffer.from('first'));
  w.write(FRAME_BATCH, 1, 20, Buffer.from('second'));
  w.close();
  const size = readFileSync(path).length;
  truncateSync(path, size - 3);
  const { list: frames, truncated } = collect(path);
  assert.equal(truncated, true);
  assert.equal(frames.length, 1);
});

test('a file that is not a recording is refused', () => {
  const path = join(dir, 'c.rec');
  writeFileSync(path, '{"t_us": 1}\n');
  assert.throws(() => collect(path), /not an umbra recording/);
  const v2 = Buffer.alloc(12);
  v2.write('UMBRAREC');
  v2.writeUInt32LE(2, 8);
  writeFileSync(path, v2);
  assert.throws(() => collect(path), /format 2 is not supported/);
});
