import type { Contract } from '../canonical';
import type { Catalog } from './deal/catalog';
import type { PsaPort } from '../connectors/psa/psa.port';
import type { DealSnapshot, DeliveryItem } from '../contract';
import { projectFromContract } from './deal/mapping';

const EPOCH = new Date(0).toISOString();

/**
 * A deal's delivered items as the PSA holds them now (everything approved so
 * far), in the shape the webhook relay and the sweep deliver: time entries,
 * expenses (on the contract's expense line) and milestone states.
 */
export async function deliveredItemsInPsa(psa: PsaPort, catalog: Catalog, snapshot: DealSnapshot, contract: Contract, projectId: string, until: string): Promise<DeliveryItem[]> {
  const { quote, customer } = snapshot;
  const project = projectFromContract({ contract: snapshot.contract, quote, catalog, customer });
  const lines = contract.lines;
  const expenseLine = lines.find((l) => l.billingModel === 'EXPENSES') ?? lines.find((l) => l.billingModel === 'TIME_AND_MATERIALS') ?? lines[0]!;
  const time = await psa.listDeliveredTime({ projectId, project, since: EPOCH, reportedAt: until });
  const expenses = await psa.listDeliveredExpenses({ projectId, project, since: EPOCH, reportedAt: until, expenseContractLineId: expenseLine.id });
  const milestones = await psa.listDeliveredMilestones({ projectId, since: EPOCH, until });
  return [...time, ...expenses, ...milestones.items];
}
