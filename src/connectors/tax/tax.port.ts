import type { Address, IsoDate, Money } from '../../canonical';

export interface TaxLineInput {
  /** Canonical invoice (or credit memo) line id; echoed back on the result. */
  lineId: string;
  amount: Money;
  /** Vendor tax code ('P0000000', 'SE000000', 'NT' for non-taxable ...). */
  taxCode: string;
  description?: string;
  quantity?: number;
}

export interface TaxDocumentInput {
  /** Document code: unique per company at the vendor; derive it from the invoice key so a retry finds the same document. */
  documentCode: string;
  /** 'INVOICE' is a sale, 'RETURN' a credit memo (negative amounts). */
  kind: 'INVOICE' | 'RETURN';
  customerCode: string;
  date: IsoDate;
  currency: string;
  shipFrom: Address;
  shipTo: Address;
  lines: readonly TaxLineInput[];
  /** Commit (report) the document now, or only calculate and save it. */
  commit: boolean;
  /** Exemption certificate number: every line is exempt. */
  exemptionNo?: string;
  purchaseOrderNo?: string;
}

export interface TaxLineResult {
  lineId: string;
  taxable: Money;
  exempt: Money;
  tax: Money;
  /** Jurisdictions that taxed the line, e.g. ['CALIFORNIA']. */
  jurisdictions: string[];
}

export interface TaxDocument {
  documentCode: string;
  vendorId: string;
  status: 'SAVED' | 'COMMITTED';
  totalAmount: Money;
  totalTax: Money;
  lines: TaxLineResult[];
}

/**
 * Tax calculation and reporting. The document code is the idempotency key:
 * the same code twice returns the existing document rather than a second one.
 */
export interface TaxPort {
  calculateTax(input: TaxDocumentInput): Promise<TaxDocument>;
  /** Commits a saved document (idempotent: committing a committed document returns it). */
  commitTax(documentCode: string): Promise<TaxDocument>;
  /** The document by code, or undefined when the vendor has none. */
  getTaxDocument(documentCode: string): Promise<TaxDocument | undefined>;
}
