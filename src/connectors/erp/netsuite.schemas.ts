import { z } from 'zod';

/**
 * NetSuite REST record service and SuiteQL shapes, the subset the adapter
 * uses (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/chapter_1540391670.html).
 * Record references are `{ id }`; sublists are `{ items: [...] }`; money is a JSON decimal.
 */

export const Ref = z.object({ id: z.string() });
export type Ref = z.infer<typeof Ref>;
const RefOut = z.looseObject({ id: z.coerce.string(), refName: z.string().optional() });

export const NetSuiteCustomer = z.looseObject({
  id: z.coerce.string(),
  externalId: z.string().nullish(),
  companyName: z.string(),
  email: z.string().nullish(),
  subsidiary: RefOut,
  currency: RefOut,
  parent: RefOut.nullish(),
  isInactive: z.boolean().optional(),
});
export type NetSuiteCustomer = z.infer<typeof NetSuiteCustomer>;

export const NetSuiteSubsidiary = z.looseObject({
  id: z.coerce.string(),
  name: z.string(),
  country: z.string(),
  currency: RefOut,
  isInactive: z.boolean(),
});
export type NetSuiteSubsidiary = z.infer<typeof NetSuiteSubsidiary>;

export const NetSuiteTransaction = z.looseObject({
  id: z.coerce.string(),
  externalId: z.string().nullish(),
  tranId: z.string(),
  entity: RefOut.optional(),
  subsidiary: RefOut,
  currency: RefOut,
  total: z.number().optional(),
  status: z.looseObject({ id: z.string(), refName: z.string().optional() }).optional(),
});
export type NetSuiteTransaction = z.infer<typeof NetSuiteTransaction>;

/** SuiteQL page: POST /services/rest/query/v1/suiteql?limit=&offset= with `Prefer: transient`. Columns come back lower-cased. */
export const SuiteQlPage = z.object({
  count: z.number(),
  hasMore: z.boolean(),
  offset: z.number(),
  totalResults: z.number(),
  items: z.array(z.record(z.string(), z.unknown())),
});
export type SuiteQlPage = z.infer<typeof SuiteQlPage>;

export const CurrencyRow = z.object({ id: z.coerce.string(), symbol: z.string() });
export const InvoiceRow = z.object({
  id: z.coerce.string(),
  externalid: z.string().nullable(),
  tranid: z.string(),
  entity: z.coerce.string(),
  currency: z.coerce.string(),
  total: z.coerce.number(),
  status: z.string(),
});
export type InvoiceRow = z.infer<typeof InvoiceRow>;

/** Error body (RFC 9457 problem details with NetSuite extensions). */
export const NetSuiteErrorBody = z.looseObject({
  type: z.string().optional(),
  title: z.string().optional(),
  status: z.number().optional(),
  'o:errorDetails': z.array(z.looseObject({ detail: z.string(), 'o:errorCode': z.string(), 'o:errorPath': z.string().optional() })).min(1),
});
export type NetSuiteErrorBody = z.infer<typeof NetSuiteErrorBody>;

/** Bodies the adapter sends. */

/** The header every customer transaction (sales order, invoice, credit memo) carries. */
export interface TransactionHeader {
  externalId: string;
  tranId: string;
  entity: Ref;
  subsidiary: Ref;
  currency: Ref;
  tranDate: string;
}

export interface SalesOrderBody extends TransactionHeader {
  startDate: string;
  endDate: string;
  otherRefNum?: string;
  memo: string;
  custbody_q2c_contract_id: string;
  custbody_q2c_contract_version: number;
  custbody_q2c_net_days: number;
  custbody_q2c_po_required: boolean;
  item: { items: SalesOrderLine[] };
}
export interface SalesOrderLine {
  item: Ref;
  description: string;
  amount: number;
  custcol_q2c_contract_line_id: string;
  custcol_q2c_quote_line_id: string;
  custcol_q2c_tax_code: string;
  custcol_q2c_revenue_treatment: string;
  custcol_q2c_billing_model: string;
  custcol_q2c_po?: string;
  revRecStartDate: string;
  revRecEndDate: string;
}

export interface InvoiceBody extends TransactionHeader {
  dueDate: string;
  otherRefNum?: string;
  createdFrom?: Ref;
  memo: string;
  taxTotal: number;
  custbody_q2c_invoice_id: string;
  custbody_q2c_invoice_key: string;
  item: { items: InvoiceLineBody[] };
}
export interface InvoiceLineBody {
  item: Ref;
  description: string;
  amount: number;
  quantity?: number;
  custcol_q2c_line_id: string;
  custcol_q2c_contract_line_id: string;
  custcol_q2c_tax_code?: string;
}

export interface CreditMemoBody extends TransactionHeader {
  createdFrom: Ref;
  memo: string;
  custbody_q2c_credit_memo_id: string;
  item: { items: InvoiceLineBody[] };
}

export interface JournalEntryBody {
  externalId: string;
  subsidiary: Ref;
  currency: Ref;
  tranDate: string;
  memo: string;
  line: { items: JournalLineBody[] };
}
export interface JournalLineBody {
  account: Ref;
  debit?: number;
  credit?: number;
  memo: string;
  custcol_q2c_revenue_line_id: string;
  custcol_q2c_contract_line_id: string;
}

export interface CustomerBody {
  externalId: string;
  companyName: string;
  email?: string;
  subsidiary: Ref;
  currency: Ref;
  parent?: Ref;
  isInactive: boolean;
  custentity_q2c_customer_id: string;
}
