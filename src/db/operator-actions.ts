import { desc, eq } from 'drizzle-orm';
import type { Db } from './index';
import { operatorActions } from './schema';

export type OperatorActionKind = 'resolve' | 'override' | 'annotate' | 'decide' | 'write-off' | 'replay' | 'amend' | 'credit' | 'terminate' | 'promise' | 'approve-ruleset' | 'reject-ruleset';
export type OperatorActionRow = typeof operatorActions.$inferSelect;

export interface OperatorActionInput {
  actor: string;
  via: 'console' | 'api';
  action: OperatorActionKind;
  opportunityId?: string | null;
  target?: string | null;
  reason?: string | null;
  /** 'ok' or the refusal's code. */
  outcome: string;
  detail?: Record<string, unknown>;
}

/** The operators' audit trail: who did what, why, and how it ended (console and API alike). */
export class OperatorActionRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: () => Date,
  ) {}

  async record(a: OperatorActionInput): Promise<void> {
    await this.db.insert(operatorActions).values({
      at: this.clock(),
      actor: a.actor,
      via: a.via,
      action: a.action,
      opportunityId: a.opportunityId ?? null,
      target: a.target ?? null,
      reason: a.reason ?? null,
      outcome: a.outcome,
      ...(a.detail ? { detail: a.detail } : {}),
    });
  }

  /** A deal's actions, oldest first. */
  async forDeal(opportunityId: string, limit = 500): Promise<OperatorActionRow[]> {
    const rows = await this.db.select().from(operatorActions).where(eq(operatorActions.opportunityId, opportunityId)).orderBy(desc(operatorActions.id)).limit(limit);
    return rows.reverse();
  }

  /** Newest first. */
  async recent(limit = 100): Promise<OperatorActionRow[]> {
    return this.db.select().from(operatorActions).orderBy(desc(operatorActions.id)).limit(limit);
  }
}
