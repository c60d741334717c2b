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

/** SuiteQL `currencyrate`: 1 unit of `transactioncurrency` = `exchangerate` units of `basecurrency` from `effectivedate`. */
export const CurrencyRateRow = z.object({
  id: z.coerce.string(),
  basecurrency: z.coerce.string(),
  transactioncurrency: z.coerce.string(),
  exchangerate: z.coerce.number().positive(),
  effectivedate: z.string(),
});
export type CurrencyRateRow = z.infer<typeof CurrencyRateRow>;

/** SuiteQL `account`: internal id by account number. */
export const AccountRow = z.object({ id: z.coerce.string(), acctnumber: z.string(), isinactive: z.string().optional() });

/** An intercompany journal entry as GET returns it (the fields the adapter reads back). */
export const NetSuiteIntercompanyJournal = z.looseObject({
  id: z.coerce.string(),
  externalId: z.string().nullish(),
  tranId: z.string(),
  subsidiary: RefOut,
  toSubsidiary: RefOut,
  currency: RefOut,
  exchangeRate: z.number().positive().optional(),
  custbody_q2c_fx_rate: z.string().nullish(),
  custbody_q2c_fx_as_of: z.string().nullish(),
  custbody_q2c_fx_source: z.string().nullish(),
  line: z.looseObject({
    items: z.array(z.looseObject({ lineSubsidiary: RefOut, account: RefOut, debit: z.number().optional(), credit: z.number().optional() })),
  }),
});
export type NetSuiteIntercompanyJournal = z.infer<typeof NetSuiteIntercompanyJournal>;

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
  /** Transaction line custom columns (Date): first and last service date of what the line bills. */
  custcol_q2c_service_start?: string;
  custcol_q2c_service_end?: string;
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

/**
 * The two-subsidiary intercompany journal entry (REST record
 * `intercompanyJournalEntry`): header `subsidiary` (originating) and
 * `toSubsidiary`, every line names its `lineSubsidiary`; the currency is the
 * base currency of one of the two; `eliminate` marks the due-to/due-from lines
 * for intercompany elimination.
 */
export interface IntercompanyJournalBody {
  externalId: string;
  subsidiary: Ref;
  toSubsidiary: Ref;
  currency: Ref;
  /** Units of the other subsidiary's base currency per unit of `currency`, when they differ. */
  exchangeRate?: number;
  tranDate: string;
  memo: string;
  custbody_q2c_fx_rate?: string;
  custbody_q2c_fx_as_of?: string;
  custbody_q2c_fx_source?: string;
  line: { items: IntercompanyJournalLineBody[] };
}
export interface IntercompanyJournalLineBody {
  lineSubsidiary: Ref;
  account: Ref;
  debit?: number;
  credit?: number;
  memo: string;
  eliminate: boolean;
  /** The counterparty of a due-to/due-from line. */
  dueToFromSubsidiary?: Ref;
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
