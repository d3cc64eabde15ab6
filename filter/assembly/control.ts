/**
 * Decoding of Control messages (daemon → filter). Hand-written and bounds
 * checked: a malformed message must not trap the VM (the generated decoder
 * reads past the end on truncated input). Unknown fields are skipped, as
 * protobuf requires.
 */
import { Control } from './generated/umbra/telemetry/v1/Control';

class Cursor {
  pos: i32 = 0;
  ok: bool = true;
  constructor(
    public p: usize,
    public n: i32,
  ) {}

  varint(): u64 {
    let x: u64 = 0;
    for (let shift: u64 = 0; shift < 64; shift += 7) {
      if (this.pos >= this.n) {
        this.ok = false;
        return 0;
      }
      const b = load<u8>(this.p + this.pos++);
      x |= (<u64>(b & 0x7f)) << shift;
      if ((b & 0x80) === 0) return x;
    }
    this.ok = false;
    return 0;
  }

  skip(k: i32): void {
    if (k < 0 || this.pos + k > this.n) this.ok = false;
    else this.pos += k;
  }
}

/** Decodes a Control; null when the bytes are not a valid message. */
export function decodeControl(p: usize, n: i32): Control | null {
  const c = new Cursor(p, n);
  const out = new Control();
  while (c.ok && c.pos < n) {
    const tag = c.varint();
    if (!c.ok) break;
    const field = <u32>(tag >> 3);
    const wire = <u32>(tag & 7);
    if (wire === 0) {
      const v = c.varint();
      if (field === 1) out.sequence = v;
      else if (field === 2) out.kind = <i32>v;
      else if (field === 4) out.ackedSequence = v;
    } else if (wire === 1) {
      if (c.pos + 8 > n) {
        c.ok = false;
        break;
      }
      if (field === 3) out.shadowPercentage = load<f64>(p + c.pos);
      else if (field === 5) out.splitPercentage = load<f64>(p + c.pos);
      c.pos += 8;
    } else if (wire === 2) {
      const len = c.varint();
      c.skip(len > 0x7fffffff ? -1 : <i32>len);
    } else if (wire === 5) {
      c.skip(4);
    } else {
      c.ok = false;
    }
  }
  return c.ok ? out : null;
}
