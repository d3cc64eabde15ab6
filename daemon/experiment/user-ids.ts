/**
 * User ids (the filter's 32-bit user hashes) as an experiment keeps and
 * stores them: a growing list, and the stored form, little-endian uint32s
 * in base64 (4 bytes a user). Pure; no imports.
 */

/** True on a little-endian host (a Uint32Array's bytes are then the stored form as they are). */
const LITTLE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * User ids as the snapshot stores them: little-endian uint32s in base64. A
 * million users take 4 MB, written in one copy on a little-endian host.
 */
export function packUsers(ids: Uint32Array | readonly number[]): string {
  const u32 = ids instanceof Uint32Array ? ids : Uint32Array.from(ids);
  if (LITTLE) return Buffer.from(u32.buffer, u32.byteOffset, u32.byteLength).toString('base64');
  const b = Buffer.alloc(u32.length * 4);
  for (const [i, id] of u32.entries()) b.writeUInt32LE(id, i * 4);
  return b.toString('base64');
}

export function unpackUsers(text: string): Uint32Array {
  const b = Buffer.from(text, 'base64');
  const n = Math.floor(b.length / 4);
  // A copy: the decoded bytes may not start on a 4-byte boundary.
  if (LITTLE) return new Uint32Array(b.buffer.slice(b.byteOffset, b.byteOffset + n * 4));
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = b.readUInt32LE(i * 4);
  return out;
}

/** A growing list of user ids. */
export class UserIds {
  private ids = new Uint32Array(1024);
  private n = 0;

  push(user: number): void {
    if (this.n === this.ids.length) {
      const bigger = new Uint32Array(this.ids.length * 2);
      bigger.set(this.ids);
      this.ids = bigger;
    }
    this.ids[this.n++] = user;
  }

  /** The ids so far (a view: valid until the next push). */
  view(): Uint32Array {
    return this.ids.subarray(0, this.n);
  }
}
