import { z } from 'zod';

/**
 * Switchable hazards, per vendor and route, as real users meet them.
 * HTTP faults match `method` and a `path` regex against the request path
 * after the vendor prefix; webhook faults match `eventType` (a regex) instead.
 */
export const FaultSpec = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('latency'), ms: z.int().min(0).max(120_000) }),
  /** Answer with this status and the vendor's error body, without running the handler. */
  z.object({ kind: z.literal('status'), status: z.int().min(400).max(599), message: z.string().default('injected fault') }),
  /** 429 with Retry-After (seconds) and the vendor's error body. */
  z.object({ kind: z.literal('rate_limit'), retryAfterSeconds: z.number().min(0).default(1), message: z.string().default('rate limit exceeded') }),
  /** Destroy the socket before the handler runs: nothing happens at the vendor. */
  z.object({ kind: z.literal('reset') }),
  /**
   * The handler runs and commits; then the response is withheld: with `delayMs`
   * it is sent that late (past the client's deadline), otherwise the socket is destroyed.
   */
  z.object({ kind: z.literal('timeout_after_commit'), delayMs: z.int().min(0).max(120_000).optional() }),
  /** Deliver a matching webhook twice. */
  z.object({ kind: z.literal('webhook_duplicate') }),
  /** Hold a matching webhook back and deliver it after the next one of the same vendor. */
  z.object({ kind: z.literal('webhook_out_of_order') }),
  /** Deliver a matching webhook this many ms late. */
  z.object({ kind: z.literal('webhook_late'), delayMs: z.int().min(0).max(600_000) }),
]);
export type FaultSpec = z.infer<typeof FaultSpec>;
export type FaultKind = FaultSpec['kind'];

export const FaultRule = z.intersection(
  FaultSpec,
  z.object({
    vendor: z.string().min(1),
    method: z.string().toUpperCase().optional(),
    /** Regex source matched against the path after the vendor prefix (no query string). */
    path: z.string().optional(),
    /** Regex source matched against the webhook event type (webhook faults). */
    eventType: z.string().optional(),
    /** How many times the fault fires; absent = until cleared. */
    times: z.int().positive().optional(),
    /** Chance that a matching request or event is hit (0 < p <= 1); absent = every one. */
    probability: z.number().gt(0).max(1).optional(),
  }),
);
export type FaultRule = z.infer<typeof FaultRule>;
export type FaultRuleInput = z.input<typeof FaultRule>;

export interface ActiveFault {
  id: string;
  rule: FaultRule;
  /** Requests or events the rule matched. */
  matched: number;
  /** Of those, how many it hit (all of them without a probability). */
  fired: number;
}

/** A uniform draw in [0, 1). */
export type Random = () => number;

/** mulberry32: a small seeded generator, so a fault run can be repeated draw for draw. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HTTP_KINDS: ReadonlySet<FaultKind> = new Set(['latency', 'status', 'rate_limit', 'reset', 'timeout_after_commit']);

/** In-memory registry of active faults for one sandbox process. */
export class FaultRegistry {
  private faults: ActiveFault[] = [];
  private nextId = 1;

  /** `random` decides probabilistic faults (default Math.random; seededRandom(n) to repeat a run). */
  constructor(private random: Random = Math.random) {}

  /** Draws from a seeded generator from now on. */
  seed(seed: number): void {
    this.random = seededRandom(seed);
  }

  /** Adds a fault; returns its id. */
  add(input: FaultRuleInput): string {
    const rule = FaultRule.parse(input);
    for (const re of [rule.path, rule.eventType]) if (re !== undefined) new RegExp(re); // reject bad regexes now, not on a request
    const id = `fault_${this.nextId++}`;
    this.faults.push({ id, rule, matched: 0, fired: 0 });
    return id;
  }

  remove(id: string): boolean {
    const before = this.faults.length;
    this.faults = this.faults.filter((f) => f.id !== id);
    return this.faults.length < before;
  }

  /** Clears all faults, or those of one vendor. */
  clear(vendor?: string): void {
    this.faults = vendor === undefined ? [] : this.faults.filter((f) => f.rule.vendor !== vendor);
  }

  list(): readonly ActiveFault[] {
    return this.faults;
  }

  /** HTTP faults that match this request, consumed (their `times` counted down). */
  takeHttp(vendor: string, method: string, path: string): FaultRule[] {
    return this.take((r) => HTTP_KINDS.has(r.kind) && r.vendor === vendor && (r.method === undefined || r.method === method.toUpperCase()) && (r.path === undefined || new RegExp(r.path).test(path)));
  }

  /** Webhook faults that match this outgoing event, consumed. */
  takeWebhook(vendor: string, eventType: string): FaultRule[] {
    return this.take((r) => !HTTP_KINDS.has(r.kind) && r.vendor === vendor && (r.eventType === undefined || new RegExp(r.eventType).test(eventType)));
  }

  private take(match: (r: FaultRule) => boolean): FaultRule[] {
    const hit: FaultRule[] = [];
    for (const f of this.faults) {
      if (!match(f.rule)) continue;
      f.matched += 1;
      if (f.rule.probability !== undefined && this.random() >= f.rule.probability) continue;
      f.fired += 1;
      hit.push(f.rule);
    }
    this.faults = this.faults.filter((f) => f.rule.times === undefined || f.fired < f.rule.times);
    return hit;
  }
}
