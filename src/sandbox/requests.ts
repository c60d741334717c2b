/** One row of the sandbox's request counts: what a vendor received, by route and answer. */
export interface RequestCount {
  vendor: string;
  method: string;
  /** The route's pattern (e.g. /services/rest/record/v1/invoice/:id), or the raw path when no route matched. */
  route: string;
  /** The status answered; 0 when the connection was reset without an answer. */
  status: number;
  count: number;
}

/**
 * Counts every request each vendor sandbox received, so a test or a chaos run can
 * check what reached a vendor (e.g. one invoice POST per invoice) independently of q2c.
 */
export class RequestCounter {
  private readonly counts = new Map<string, RequestCount>();

  record(vendor: string, method: string, route: string, status: number): void {
    const key = `${vendor} ${method} ${route} ${status}`;
    const row = this.counts.get(key);
    if (row) row.count += 1;
    else this.counts.set(key, { vendor, method, route, status, count: 1 });
  }

  list(vendor?: string): RequestCount[] {
    return [...this.counts.values()]
      .filter((r) => vendor === undefined || r.vendor === vendor)
      .sort((a, b) => a.vendor.localeCompare(b.vendor) || a.route.localeCompare(b.route) || a.method.localeCompare(b.method) || a.status - b.status);
  }

  reset(): void {
    this.counts.clear();
  }
}
