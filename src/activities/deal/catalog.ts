import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { BillingModel, InvoiceSchedule, LegalEntity, RevenueTreatment, RuleSetRef, formatZodIssues } from '../../canonical';

const TemplateTask = z.object({ key: z.string().min(1), name: z.string().min(1), billable: z.boolean() });
const TemplatePhase = z.object({
  key: z.string().min(1),
  name: z.string().min(1),
  /** At most one milestone per phase; its share of a fixed fee. */
  milestone: z.object({ key: z.string().min(1), name: z.string().min(1), percentBp: z.int().min(0).max(10_000) }).optional(),
  tasks: z.array(TemplateTask).default([]),
});

/** A PSA project template: phases, milestones, tasks and role placeholders for one service package. */
export const ProjectTemplate = z.object({
  id: z.string().min(1),
  phases: z.array(TemplatePhase).min(1),
  roles: z.array(z.object({ role: z.string().min(1), region: z.string().min(1), plannedMinutes: z.int().min(0) })).default([]),
});
export type ProjectTemplate = z.infer<typeof ProjectTemplate>;

export const ServicePackage = z.object({
  billingModel: BillingModel,
  invoiceSchedule: InvoiceSchedule,
  revenueTreatment: RevenueTreatment,
  taxCode: z.string().min(1),
  rateCardRef: z.string().min(1).optional(),
  /** T&M: the quoted value becomes the not-to-exceed cap. */
  capAtQuotedValue: z.boolean().default(false),
  /** T&M cap: do expenses billed on the line count against it? Absent: yes (the contract term is left unset). */
  capIncludesExpenses: z.boolean().optional(),
  subscriptionPeriod: z.enum(['MONTHLY', 'QUARTERLY', 'ANNUAL']).optional(),
  /** Packages without a template (expenses) add no project structure. */
  template: ProjectTemplate.optional(),
});
export type ServicePackage = z.infer<typeof ServicePackage>;

/**
 * Master data the CRM does not hold: legal entities, the service catalog
 * (what each sold package means for billing, revenue and the project) and
 * the rule set new contracts are pinned to.
 */
export const Catalog = z.object({
  ruleSet: RuleSetRef,
  legalEntities: z.array(LegalEntity).min(1),
  servicePackages: z.record(z.string().min(1), ServicePackage),
});
export type Catalog = z.infer<typeof Catalog>;

export const DEFAULT_CATALOG_FILE = path.resolve(__dirname, '..', '..', '..', 'reference', 'catalog.json');

export class CatalogError extends Error {
  override name = 'CatalogError';
}

/** Reads and validates a catalog file; every bad field is named with its path. */
export function loadCatalog(file = DEFAULT_CATALOG_FILE): Catalog {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CatalogError(`${file}: ${(err as Error).message}`);
  }
  const parsed = Catalog.safeParse(raw);
  if (!parsed.success) throw new CatalogError(`${file}: invalid catalog\n  ${formatZodIssues(parsed.error).join('\n  ')}`);
  return parsed.data;
}
