import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { CURRENCY_RULES, parseDecimal, toDecimalString, type Money } from '../../canonical';
import type { SandboxPlugin, SandboxVendor } from '../context';
import { DuplicateExternalIdError, type SandboxRecord } from '../store';
import { EXEMPT_TAX_CODES, jurisdictionFor, taxMinor } from './avalara.rates';

/** Fixed dev/test credentials of the AvaTax sandbox (Basic accountId:licenseKey). Valid nowhere else. */
export const AVALARA_SANDBOX = Object.freeze({
  accountId: '1100000001',
  licenseKey: 'q2c-sandbox-license-key',
  companyCode: 'Q2C',
});

const VENDOR = 'avalara';
const KIND = 'transaction';

/** AvaTax's error body. */
export const avalaraError = (code: string, message: string, target?: string, details: { code: string; message: string; description?: string }[] = []) => ({
  error: {
    code,
    message,
    ...(target ? { target } : {}),
    details: (details.length > 0 ? details : [{ code, message }]).map((d, i) => ({ ...d, number: i + 1, faultCode: code === 'AuthenticationException' ? 'Client' : 'Client', severity: 'Error' })),
  },
});

const errorBody = (status: number, message: string) =>
  avalaraError(status === 429 ? 'TooManyRequests' : status === 404 ? 'EntityNotFoundError' : status === 401 ? 'AuthenticationException' : status >= 500 ? 'ServerError' : 'InvalidRequest', message);

const Address = z.object({ line1: z.string().min(1), line2: z.string().optional(), city: z.string().min(1), region: z.string().optional(), postalCode: z.string().optional(), country: z.string().length(2) });
const CreateTransaction = z.object({
  type: z.enum(['SalesOrder', 'SalesInvoice', 'ReturnOrder', 'ReturnInvoice']),
  code: z.string().min(1).max(50),
  companyCode: z.string().min(1),
  date: z.iso.date(),
  customerCode: z.string().min(1),
  currencyCode: z.string().refine((c) => Object.prototype.hasOwnProperty.call(CURRENCY_RULES, c), 'unknown currency'),
  purchaseOrderNo: z.string().optional(),
  exemptionNo: z.string().optional(),
  commit: z.boolean().optional(),
  addresses: z.object({ shipFrom: Address, shipTo: Address }),
  lines: z
    .array(z.object({ number: z.string().min(1), quantity: z.number().positive().default(1), amount: z.number(), taxCode: z.string().optional(), itemCode: z.string().optional(), description: z.string().optional() }))
    .min(1),
});
type CreateTransaction = z.infer<typeof CreateTransaction>;

type TransactionData = Record<string, unknown> & { code: string; status: 'Saved' | 'Committed'; contentHash: string; companyCode: string };

const num = (m: Money): number => Number(toDecimalString(m));

class AvaTaxError extends Error {
  constructor(
    readonly status: number,
    readonly body: ReturnType<typeof avalaraError>,
  ) {
    super(body.error.message);
  }
}

/** Tax per line from the rate table, rounded per line in minor units; totals are sums of the rounded lines. */
export function computeTransaction(req: CreateTransaction, id: number, status: 'Saved' | 'Committed'): Record<string, unknown> {
  const cur = req.currencyCode;
  const juris = jurisdictionFor(req.addresses.shipTo.country, req.addresses.shipTo.region);
  if (juris === undefined) {
    const where = [req.addresses.shipTo.country, req.addresses.shipTo.region].filter(Boolean).join('-');
    throw new AvaTaxError(400, avalaraError('JurisdictionNotFoundError', `No tax jurisdiction could be determined for ${where}.`, 'addresses.shipTo'));
  }
  let totalAmount = 0;
  let totalTax = 0;
  let totalTaxable = 0;
  let totalExempt = 0;
  const lines = req.lines.map((l, i) => {
    let amount: Money;
    try {
      amount = parseDecimal(l.amount.toFixed(CURRENCY_RULES[cur]!.exponent), cur);
      if (Number(toDecimalString(amount)) !== l.amount) throw new Error('precision');
    } catch {
      throw new AvaTaxError(400, avalaraError('InvalidAmount', `Line ${l.number}: amount ${l.amount} has more decimals than ${cur} allows.`, `lines[${i}].amount`));
    }
    const taxCode = l.taxCode ?? 'P0000000';
    const exempt = EXEMPT_TAX_CODES.has(taxCode) || req.exemptionNo !== undefined;
    const tax = exempt ? 0 : taxMinor(amount.amountMinor, juris.ratePpm);
    const taxable = exempt ? 0 : amount.amountMinor;
    totalAmount += amount.amountMinor;
    totalTax += tax;
    totalTaxable += taxable;
    totalExempt += amount.amountMinor - taxable;
    const m = (n: number) => num({ amountMinor: n, currency: cur });
    return {
      lineNumber: l.number,
      itemCode: l.itemCode ?? '',
      description: l.description ?? '',
      quantity: l.quantity,
      lineAmount: m(amount.amountMinor),
      taxableAmount: m(taxable),
      exemptAmount: m(amount.amountMinor - taxable),
      tax: m(tax),
      taxCode,
      exemptNo: req.exemptionNo ?? null,
      details: [
        {
          country: juris.country,
          region: juris.region,
          jurisType: juris.jurisType,
          jurisName: juris.jurisName,
          taxName: juris.taxName,
          rate: exempt ? 0 : juris.ratePpm / 1_000_000,
          tax: m(tax),
          taxableAmount: m(taxable),
          exemptAmount: m(amount.amountMinor - taxable),
        },
      ],
    };
  });
  const m = (n: number) => num({ amountMinor: n, currency: cur });
  return {
    id,
    code: req.code,
    companyId: 1,
    date: req.date,
    status,
    type: req.type,
    customerCode: req.customerCode,
    currencyCode: cur,
    purchaseOrderNo: req.purchaseOrderNo ?? null,
    exemptNo: req.exemptionNo ?? null,
    totalAmount: m(totalAmount),
    totalTax: m(totalTax),
    totalTaxable: m(totalTaxable),
    totalExempt: m(totalExempt),
    lines,
    addresses: [
      { boundaryLevel: 'Address', ...req.addresses.shipFrom, addressType: 'ShipFrom' },
      { boundaryLevel: 'Address', ...req.addresses.shipTo, addressType: 'ShipTo' },
    ],
  };
}

const hashOf = (req: CreateTransaction): string => {
  const { commit: _commit, ...content } = req;
  return createHash('sha256').update(JSON.stringify(content)).digest('hex');
};

const publicView = (r: SandboxRecord<TransactionData>): Record<string, unknown> => {
  const { contentHash: _h, companyCode: _c, ...rest } = r.data;
  return rest;
};

const basicOk = (header: string | undefined): boolean => {
  if (!header?.startsWith('Basic ')) return false;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  return decoded === `${AVALARA_SANDBOX.accountId}:${AVALARA_SANDBOX.licenseKey}`;
};

/**
 * AvaTax REST v2 subset: create (with commit), get and commit by company and
 * document code. One document per company + code: the same code with the
 * same content returns the existing transaction; different content replaces
 * a saved document and is refused for a committed one.
 */
export const avalaraSandbox: SandboxPlugin = async (app, ctx) => {
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!basicOk(request.headers.authorization)) {
      return reply.code(401).send(avalaraError('AuthenticationException', 'Authentication failed.', undefined, [{ code: 'AuthenticationException', message: 'Authentication failed.', description: 'Missing authentication or unable to authenticate the user or the account.' }]));
    }
    return undefined;
  });

  const send = async (reply: FastifyReply, fn: () => Promise<{ status: number; body: unknown }>) => {
    try {
      const out = await fn();
      return reply.code(out.status).send(out.body);
    } catch (err) {
      if (err instanceof AvaTaxError) return reply.code(err.status).send(err.body);
      throw err;
    }
  };

  const byCode = (companyCode: string, code: string) => ctx.store.getByExternalId<TransactionData>(VENDOR, KIND, `${companyCode}:${code}`);

  app.post('/api/v2/transactions/create', async (request, reply) =>
    send(reply, async () => {
      const parsed = CreateTransaction.safeParse(request.body);
      if (!parsed.success) {
        const first = parsed.error.issues[0]!;
        throw new AvaTaxError(
          400,
          avalaraError(
            'ModelStateInvalid',
            `The request model is invalid: ${first.path.join('.')}: ${first.message}`,
            first.path.join('.'),
            parsed.error.issues.map((i) => ({ code: 'ValueRequiredError', message: `${i.path.join('.')}: ${i.message}` })),
          ),
        );
      }
      const req = parsed.data;
      const contentHash = hashOf(req);
      const status = req.commit ? 'Committed' : 'Saved';
      const externalId = `${req.companyCode}:${req.code}`;
      for (let attempt = 0; attempt < 3; attempt++) {
        const existing = await byCode(req.companyCode, req.code);
        if (existing === undefined) {
          try {
            const rec = await ctx.store.insert<TransactionData>(VENDOR, KIND, {
              externalId,
              data: (_id, seq) => ({ ...computeTransaction(req, seq, status), code: req.code, status, contentHash, companyCode: req.companyCode }),
            });
            return { status: 201, body: publicView(rec) };
          } catch (err) {
            if (err instanceof DuplicateExternalIdError) continue; // a concurrent create won; answer like a repeat
            throw err;
          }
        }
        if (existing.data.contentHash === contentHash) {
          if (req.commit && existing.data.status === 'Saved') {
            const rec = await ctx.store.update<TransactionData>(VENDOR, KIND, existing.id, (d) => ({ ...d, status: 'Committed' }));
            return { status: 200, body: publicView(rec) };
          }
          return { status: 200, body: publicView(existing) };
        }
        if (existing.data.status === 'Committed') {
          throw new AvaTaxError(400, avalaraError('DocumentCodeConflict', `A committed document with code ${req.code} already exists with different content; void or adjust it instead.`, 'code'));
        }
        const rec = await ctx.store.update<TransactionData>(VENDOR, KIND, existing.id, () => ({
          ...computeTransaction(req, Number(existing.id), status),
          code: req.code,
          status,
          contentHash,
          companyCode: req.companyCode,
        }));
        return { status: 200, body: publicView(rec) };
      }
      throw new Error(`document ${req.code}: create kept racing`);
    }),
  );

  app.get('/api/v2/companies/:companyCode/transactions/:code', async (request, reply) =>
    send(reply, async () => {
      const { companyCode, code } = request.params as { companyCode: string; code: string };
      const rec = await byCode(companyCode, code);
      if (!rec) throw new AvaTaxError(404, avalaraError('EntityNotFoundError', `Document ${code} not found for company ${companyCode}.`, 'code'));
      return { status: 200, body: publicView(rec) };
    }),
  );

  app.post('/api/v2/companies/:companyCode/transactions/:code/commit', async (request, reply) =>
    send(reply, async () => {
      const { companyCode, code } = request.params as { companyCode: string; code: string };
      const body = z.object({ commit: z.boolean() }).safeParse(request.body);
      if (!body.success) throw new AvaTaxError(400, avalaraError('ModelStateInvalid', 'The request model is invalid: commit is required.', 'commit'));
      const rec = await byCode(companyCode, code);
      if (!rec) throw new AvaTaxError(404, avalaraError('EntityNotFoundError', `Document ${code} not found for company ${companyCode}.`, 'code'));
      const next = body.data.commit ? 'Committed' : 'Saved';
      if (rec.data.status === next) return { status: 200, body: publicView(rec) };
      const updated = await ctx.store.update<TransactionData>(VENDOR, KIND, rec.id, (d) => ({ ...d, status: next }));
      return { status: 200, body: publicView(updated) };
    }),
  );
};

export const AVALARA_VENDOR: SandboxVendor = { vendor: VENDOR, prefix: '/avalara', plugin: avalaraSandbox, errorBody };
