/**
 * A small, fast pseudo-random generator (xorshift64*) for sampling decisions.
 * Seeded once per root context from host randomness; not for secrets.
 */
export class Rng {
  private state: u64;

  constructor(seed: u64) {
    this.state = seed !== 0 ? seed : ((<u64>0x9e3779b9) << 32) | 0x7f4a7c15;
  }

  /** The next 64 random bits. */
  next(): u64 {
    let x = this.state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    this.state = x;
    return x * (((<u64>0x2545f491) << 32) | 0x4f6cdd1d);
  }

  /** A uniform value in [0, 100). */
  percent(): f64 {
    return <f64>(this.next() >> 11) * (1.0 / 9007199254740992.0) * 100.0;
  }
}
