export interface TokenBucketOptions {
  /** Burst size: how many requests may go at once after a quiet period. */
  capacity: number;
  /** Sustained rate, requests per second (the vendor's documented limit). */
  refillPerSecond: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Per-system token bucket. Callers `acquire()` before each request and wait
 * their turn in FIFO order. `pauseFor(ms)` honours a vendor's 429 Retry-After
 * for every caller of the same system in this process: nobody gets a token
 * until the pause is over.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private pausedUntil = 0;
  private queue: Promise<void> = Promise.resolve();
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: TokenBucketOptions) {
    if (!(options.capacity >= 1) || !(options.refillPerSecond > 0)) throw new RangeError('token bucket needs capacity >= 1 and refillPerSecond > 0');
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? realSleep;
    this.tokens = options.capacity;
    this.last = this.now();
  }

  /** Waits until a token is available (and any Retry-After pause is over), then takes it. */
  acquire(): Promise<void> {
    const turn = this.queue.then(() => this.take());
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /** No token is handed out for `ms` from now (a 429's Retry-After). */
  pauseFor(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + Math.max(0, ms));
  }

  /** Tokens available right now (for tests and metrics). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  private refill(): void {
    const t = this.now();
    const elapsed = Math.max(0, t - this.last);
    this.last = t;
    this.tokens = Math.min(this.options.capacity, this.tokens + (elapsed * this.options.refillPerSecond) / 1000);
  }

  private async take(): Promise<void> {
    for (;;) {
      const pause = this.pausedUntil - this.now();
      if (pause > 0) {
        await this.sleep(pause);
        continue;
      }
      this.refill();
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await this.sleep(Math.ceil(((1 - this.tokens) * 1000) / this.options.refillPerSecond));
    }
  }
}

/**
 * Requests in flight to one vendor account, at most `limit` at a time (NetSuite governs
 * concurrency, not requests per second). Callers `acquire()` a slot before sending and call
 * the returned release when the answer has been read; waiting callers get slots in FIFO
 * order. `pauseFor(ms)` (a 429's Retry-After) holds every new request back until it is over.
 */
export class InFlightLimit {
  private inFlight = 0;
  private pausedUntil = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    readonly limit: number,
    opts: { now?: () => number; sleep?: (ms: number) => Promise<void> } = {},
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`an in-flight limit is a whole number >= 1, not ${limit}`);
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? realSleep;
  }

  /** Waits for a free slot (and the end of any pause); resolves to the function that frees it (idempotent). */
  async acquire(): Promise<() => void> {
    if (this.inFlight < this.limit && this.waiting.length === 0) this.inFlight += 1;
    else await new Promise<void>((resolve) => this.waiting.push(resolve)); // the releaser hands its slot over
    for (let pause = this.pausedUntil - this.now(); pause > 0; pause = this.pausedUntil - this.now()) await this.sleep(pause);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.inFlight -= 1;
    };
  }

  /** No new request starts for `ms` from now. */
  pauseFor(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + Math.max(0, ms));
  }

  /** Slots taken right now, and callers waiting for one (for tests and metrics). */
  stats(): { inFlight: number; waiting: number } {
    return { inFlight: this.inFlight, waiting: this.waiting.length };
  }
}
