/** The deal's stages, in the order a healthy deal passes them. */
export const DEAL_STAGES = [
  'QUOTE_ACCEPTED',
  'CUSTOMER_VALIDATED',
  'CONTRACT_OUT_FOR_SIGNATURE',
  'CONTRACT_SIGNED',
  'PROJECT_PROVISIONED',
  'ERP_CONTRACT_POSTED',
  'BILLING_SCHEDULED',
  'IN_DELIVERY',
  'CLOSED',
  'NEEDS_ATTENTION',
  'CANCELLED',
] as const;
export type DealStage = (typeof DEAL_STAGES)[number];

/** The stages in which the deal is working (everything before CLOSED). */
const ACTIVE: DealStage[] = DEAL_STAGES.slice(0, DEAL_STAGES.indexOf('CLOSED'));

/**
 * Every allowed transition, in one table. Any stage that does work can park in
 * NEEDS_ATTENTION or be cancelled; NEEDS_ATTENTION resumes the stage it came from.
 */
export const TRANSITIONS: Readonly<Record<DealStage, readonly DealStage[]>> = {
  QUOTE_ACCEPTED: ['CUSTOMER_VALIDATED', 'NEEDS_ATTENTION', 'CANCELLED'],
  CUSTOMER_VALIDATED: ['CONTRACT_OUT_FOR_SIGNATURE', 'NEEDS_ATTENTION', 'CANCELLED'],
  CONTRACT_OUT_FOR_SIGNATURE: ['CONTRACT_SIGNED', 'NEEDS_ATTENTION', 'CANCELLED'],
  CONTRACT_SIGNED: ['PROJECT_PROVISIONED', 'NEEDS_ATTENTION', 'CANCELLED'],
  PROJECT_PROVISIONED: ['ERP_CONTRACT_POSTED', 'NEEDS_ATTENTION', 'CANCELLED'],
  ERP_CONTRACT_POSTED: ['BILLING_SCHEDULED', 'NEEDS_ATTENTION', 'CANCELLED'],
  BILLING_SCHEDULED: ['IN_DELIVERY', 'NEEDS_ATTENTION', 'CANCELLED'],
  IN_DELIVERY: ['CLOSED', 'NEEDS_ATTENTION', 'CANCELLED'],
  NEEDS_ATTENTION: [...ACTIVE, 'CANCELLED'],
  CLOSED: [],
  CANCELLED: [],
};

export const isTerminal = (stage: DealStage): boolean => TRANSITIONS[stage].length === 0;
