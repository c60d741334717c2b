import { z } from 'zod';

/** Salesforce REST error body: an array of { message, errorCode, fields? }. */
export const SalesforceErrorBody = z.array(z.looseObject({ message: z.string(), errorCode: z.string(), fields: z.array(z.string()).optional() }));

const num = z.number().nullable();
const str = z.string().nullable();

export const OpportunityRecord = z.looseObject({
  Id: z.string(),
  Name: z.string(),
  AccountId: z.string(),
  StageName: z.string(),
  IsClosed: z.boolean(),
  IsWon: z.boolean(),
  CloseDate: z.string(),
  Amount: num,
  CurrencyIsoCode: str,
  SBQQ__PrimaryQuote__c: str,
  Q2C_Project_URL__c: str,
  /** Custom fields: the legal entity that sold the deal, the one whose people deliver it, the customer's PO. */
  Q2C_Sold_Entity__c: str.optional(),
  Q2C_Delivery_Entity__c: str.optional(),
  Q2C_PO_Number__c: str.optional(),
});
export type OpportunityRecord = z.infer<typeof OpportunityRecord>;
export const OPPORTUNITY_FIELDS = [
  'Id', 'Name', 'AccountId', 'StageName', 'IsClosed', 'IsWon', 'CloseDate', 'Amount', 'CurrencyIsoCode', 'SBQQ__PrimaryQuote__c', 'Q2C_Project_URL__c',
  'Q2C_Sold_Entity__c', 'Q2C_Delivery_Entity__c', 'Q2C_PO_Number__c',
] as const;

export const AccountRecord = z.looseObject({
  Id: z.string(),
  Name: z.string(),
  BillingStreet: str,
  BillingCity: str,
  BillingState: str,
  BillingPostalCode: str,
  BillingCountryCode: str,
  ParentId: str,
  CurrencyIsoCode: str,
  Q2C_Legal_Entity__c: str,
  Q2C_Tax_Id__c: str,
  Q2C_Billing_Email__c: str.optional(),
  Q2C_Billing_Contact__c: str.optional(),
});
export type AccountRecord = z.infer<typeof AccountRecord>;
export const ACCOUNT_FIELDS = [
  'Id', 'Name', 'BillingStreet', 'BillingCity', 'BillingState', 'BillingPostalCode', 'BillingCountryCode', 'ParentId', 'CurrencyIsoCode',
  'Q2C_Legal_Entity__c', 'Q2C_Tax_Id__c', 'Q2C_Billing_Email__c', 'Q2C_Billing_Contact__c',
] as const;

/** SBQQ__Quote__c as Salesforce CPQ models it (ApprovalStatus__c comes from Advanced Approvals). */
export const QuoteRecord = z.looseObject({
  Id: z.string(),
  Name: str,
  SBQQ__Opportunity2__c: z.string(),
  SBQQ__Account__c: str,
  SBQQ__Primary__c: z.boolean(),
  SBQQ__Status__c: str,
  ApprovalStatus__c: str,
  SBQQ__ExpirationDate__c: str,
  CurrencyIsoCode: z.string(),
});
export type QuoteRecord = z.infer<typeof QuoteRecord>;
export const QUOTE_FIELDS = ['Id', 'Name', 'SBQQ__Opportunity2__c', 'SBQQ__Account__c', 'SBQQ__Primary__c', 'SBQQ__Status__c', 'ApprovalStatus__c', 'SBQQ__ExpirationDate__c', 'CurrencyIsoCode'] as const;

export const QuoteLineRecord = z.looseObject({
  Id: z.string(),
  SBQQ__Quote__c: z.string(),
  SBQQ__Number__c: num,
  SBQQ__ProductCode__c: z.string(),
  SBQQ__Description__c: str,
  SBQQ__Quantity__c: z.number(),
  SBQQ__ListPrice__c: z.number(),
  SBQQ__NetPrice__c: z.number(),
  /** Additional discount in percent (10 = 10 %). */
  SBQQ__Discount__c: num,
  Q2C_Unit__c: str,
  /** CPQ's per-line subscription/service dates ('YYYY-MM-DD'); null when the line runs for the quote's term. */
  SBQQ__StartDate__c: str.optional(),
  SBQQ__EndDate__c: str.optional(),
});
export type QuoteLineRecord = z.infer<typeof QuoteLineRecord>;
export const QUOTE_LINE_FIELDS = ['Id', 'SBQQ__Quote__c', 'SBQQ__Number__c', 'SBQQ__ProductCode__c', 'SBQQ__Description__c', 'SBQQ__Quantity__c', 'SBQQ__ListPrice__c', 'SBQQ__NetPrice__c', 'SBQQ__Discount__c', 'Q2C_Unit__c', 'SBQQ__StartDate__c', 'SBQQ__EndDate__c'] as const;

export const queryResult = <T extends z.ZodType>(record: T) =>
  z.object({ totalSize: z.number(), done: z.boolean(), nextRecordsUrl: z.string().optional(), records: z.array(record) });

export const UpsertResult = z.object({ id: z.string(), success: z.boolean(), created: z.boolean().optional(), errors: z.array(z.unknown()) });

/** POST /sobjects/{type}: the new record's id. */
export const CreateResult = z.object({ id: z.string(), success: z.boolean(), errors: z.array(z.unknown()) });

/** A query row read for its id only. */
export const IdRecord = z.looseObject({ Id: z.string() });
