import { z } from 'zod';
import { ExternalIds, Id, IsoDate } from './common';

export const Task = z.object({
  id: Id,
  name: z.string().min(1),
  billable: z.boolean(),
  /** The contract line this task's time is billed against. */
  contractLineId: Id.optional(),
});
export type Task = z.infer<typeof Task>;

export const Milestone = z.object({
  id: Id,
  name: z.string().min(1),
  contractLineId: Id,
  dueDate: IsoDate.optional(),
});
export type Milestone = z.infer<typeof Milestone>;

export const Phase = z.object({
  id: Id,
  name: z.string().min(1),
  milestones: z.array(Milestone).default([]),
  tasks: z.array(Task).default([]),
});
export type Phase = z.infer<typeof Phase>;

/** Unstaffed demand created from the template: filled later by a resource assignment. */
export const RolePlaceholder = z.object({
  id: Id,
  role: z.string().min(1),
  region: z.string().min(1),
  plannedMinutes: z.int().min(0),
  phaseId: Id.optional(),
});
export type RolePlaceholder = z.infer<typeof RolePlaceholder>;

export const Project = z.object({
  id: Id,
  name: z.string().min(1),
  contractId: Id,
  contractVersion: z.int().positive(),
  customerId: Id,
  /** Template chosen from the sold service package. */
  templateId: z.string().min(1),
  startDate: IsoDate,
  endDate: IsoDate.optional(),
  status: z.enum(['PLANNED', 'ACTIVE', 'ON_HOLD', 'COMPLETED', 'CANCELLED']).default('PLANNED'),
  phases: z.array(Phase).min(1),
  rolePlaceholders: z.array(RolePlaceholder).default([]),
  externalIds: ExternalIds.default({}),
});
export type Project = z.infer<typeof Project>;
