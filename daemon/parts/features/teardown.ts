/**
 * What the controller part must undo when it stops, collected as it starts:
 * each feature registers its own undo next to what it started, and `run`
 * undoes them in reverse order (what started last stops first). A feature
 * that must stop before everything else (an experiment lifting its faults
 * while routing still publishes) registers with `first`.
 */
import { logger } from '../../log.js';

const log = logger('controller');

type Undo = () => void | Promise<void>;

export class Teardown {
  readonly #first: { name: string; undo: Undo }[] = [];
  readonly #rest: { name: string; undo: Undo }[] = [];

  /** Registers an undo; `first` ones run before all others, in the order registered. */
  add(name: string, undo: Undo, opts: { first?: boolean } = {}): void {
    (opts.first ? this.#first : this.#rest).push({ name, undo });
  }

  /** Runs every undo once (first ones in order, then the rest newest first); one failing does not stop the others. */
  async run(): Promise<void> {
    const steps = [...this.#first.splice(0), ...this.#rest.splice(0).reverse()];
    for (const { name, undo } of steps) {
      try {
        await undo();
      } catch (err) {
        log.error('controller part did not stop cleanly', { step: name, error: (err as Error).message });
      }
    }
  }
}
