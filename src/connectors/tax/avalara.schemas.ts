import { z } from 'zod';

/** AvaTax REST v2 models, the subset the adapter sends and reads (https://developer.avalara.com/api-reference/avatax/rest/v2/models/). */

export const AvalaraAddress = z.object({
  line1: z.string(),
  line2: z.string().optional(),
  city: z.string(),
  region: z.string().optional(),
  postalCode: z.string().optional(),
  country: z.string(),
});
export type AvalaraAddress = z.infer<typeof AvalaraAddress>;

export const AvalaraLineInput = z.object({
  number: z.string(),
  quantity: z.number(),
  amount: z.number(),
  taxCode: z.string().optional(),
  itemCode: z.string().optional(),
  description: z.string().optional(),
});

export const CreateTransactionModel = z.object({
  type: z.enum(['SalesOrder', 'SalesInvoice', 'ReturnOrder', 'ReturnInvoice']),
  code: z.string().min(1).max(50),
  companyCode: z.string().min(1),
  date: z.string(),
  customerCode: z.string().min(1),
  currencyCode: z.string().length(3),
  purchaseOrderNo: z.string().optional(),
  exemptionNo: z.string().optional(),
  commit: z.boolean().optional(),
  addresses: z.object({ shipFrom: AvalaraAddress, shipTo: AvalaraAddress }),
  lines: z.array(AvalaraLineInput).min(1),
});
export type CreateTransactionModel = z.infer<typeof CreateTransactionModel>;

export const TransactionLineDetail = z.looseObject({
  jurisName: z.string(),
  jurisType: z.string(),
  country: z.string(),
  region: z.string(),
  rate: z.number(),
  tax: z.number(),
  taxableAmount: z.number(),
  taxName: z.string().optional(),
});

export const TransactionLine = z.looseObject({
  lineNumber: z.string(),
  lineAmount: z.number(),
  tax: z.number(),
  taxableAmount: z.number(),
  exemptAmount: z.number(),
  taxCode: z.string().nullable().optional(),
  details: z.array(TransactionLineDetail),
});

export const TransactionModel = z.looseObject({
  id: z.number(),
  code: z.string(),
  companyId: z.number().optional(),
  date: z.string(),
  status: z.string(),
  type: z.string(),
  currencyCode: z.string(),
  customerCode: z.string(),
  totalAmount: z.number(),
  totalTax: z.number(),
  totalTaxable: z.number(),
  totalExempt: z.number(),
  lines: z.array(TransactionLine),
});
export type TransactionModel = z.infer<typeof TransactionModel>;

/** AvaTax error body: `{ error: { code, message, target, details: [...] } }`. */
export const AvalaraErrorBody = z.object({
  error: z.looseObject({
    code: z.string(),
    message: z.string(),
    target: z.string().optional(),
    details: z.array(z.looseObject({ code: z.string().optional(), message: z.string().optional(), description: z.string().optional() })).optional(),
  }),
});
export type AvalaraErrorBody = z.infer<typeof AvalaraErrorBody>;
