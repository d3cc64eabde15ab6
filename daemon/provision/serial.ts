/**
 * One operation at a time per key (a pool): a resize, a stop or a check of a
 * pool waits for the ones before it, so two concurrent calls never both start
 * the instances a pool is missing. Different keys run concurrently.
 */
export class KeyedSerial {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `fn` after every earlier call for the same key has settled; its result or rejection is the caller's. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, settled);
    void settled.then(() => {
      if (this.#tails.get(key) === settled) this.#tails.delete(key);
    });
    return run;
  }
}
