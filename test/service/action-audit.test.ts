import { apiActionRecord } from '../../src/service/action-audit';

describe('operator actions over the API, as recorded (pure)', () => {
  const base = { params: { id: 'OPP-1' }, actor: 'ops', status: 200, answer: {} };

  it('names the action, its target and why; a refusal by its code', () => {
    expect(apiActionRecord({ ...base, routeUrl: '/deals/:id/invoices/:invoiceId/write-off', params: { id: 'OPP-1', invoiceId: 'INV-7' }, body: { reason: ' customer insolvent ' } })).toEqual({
      actor: 'ops', via: 'api', action: 'write-off', opportunityId: 'OPP-1', target: 'INV-7', reason: 'customer insolvent', outcome: 'ok',
    });
    expect(apiActionRecord({ ...base, routeUrl: '/deals/:id/resolve', body: { action: 'override', field: 'customer.currency', value: 'USD', note: 'per contract' }, status: 409, answer: { error: 'ACTION_REJECTED', reason: 'DEAL.ACTION_INVALID' } })).toMatchObject({
      action: 'override', target: 'override', reason: 'per contract', outcome: 'DEAL.ACTION_INVALID', detail: { action: 'override', field: 'customer.currency', value: 'USD' },
    });
    expect(apiActionRecord({ ...base, routeUrl: '/deals/:id/amendments', body: { requestId: 'amd-1', reason: 'scope change' }, status: 400, answer: { error: 'BAD_REQUEST' } })).toMatchObject({ action: 'amend', target: 'amd-1', reason: 'scope change', outcome: 'BAD_REQUEST' });
    expect(apiActionRecord({ ...base, routeUrl: '/inbox/:id/replay', params: { id: '12' }, body: undefined, answer: { workflowId: 'deal-OPP-9', outcome: 'dispatched' } })).toMatchObject({ action: 'replay', opportunityId: 'OPP-9', target: 'inbox 12' });
  });

  it('records nothing for reads, or without an authenticated holder', () => {
    expect(apiActionRecord({ ...base, routeUrl: '/deals/:id', body: undefined })).toBeUndefined();
    expect(apiActionRecord({ ...base, routeUrl: '/deals/:id/resolve', body: { action: 'retry' }, actor: undefined })).toBeUndefined();
  });
});
