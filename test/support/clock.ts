/** A clock for a store under test: it stands still until the test moves it on. */
export class ManualClock {
  #time: number;

  constructor(start: number = Date.now()) {
    this.#time = start;
  }

  /** The clock's time in epoch milliseconds; pass as a store's `now`. */
  readonly now = (): number => this.#time;

  /** Moves the clock on by `ms`, as if that much time had passed. */
  advance(ms: number): void {
    this.#time += ms;
  }
}
