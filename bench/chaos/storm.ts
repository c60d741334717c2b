/**
 * The webhook storm: every delivery to the q2c service goes out three times,
 * shuffled and late, the way vendors redeliver, together with tampered, stale
 * and wrongly signed copies that must all be refused. A valid copy that meets
 * a 5xx, a 429 or a dead socket (service or database restarting) is delivered
 * again with backoff, as vendors do, until the service answers.
 *
 * The DocuSign and Stripe sandboxes send their webhooks to the storm's relay
 * (`relayUrl`), which answers them at once and storms them on to the service;
 * the harness's own Salesforce and Kantata relays call `deliver` directly.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { signQ2c } from '../../src/service/webhooks/signature';
import type { Random } from '../../src/sandbox/faults';
import { sleep } from './processes';

export type Scheme = 'q2c' | 'stripe' | 'docusign';

export interface Delivery {
  /** Service path, e.g. /webhooks/kantata/time-entry-approved. */
  path: string;
  body: string;
  headers: Record<string, string>;
  scheme: Scheme;
  /** The secret of the scheme (to re-sign stale copies). */
  secret: string;
}

export interface StormOptions {
  serviceUrl: string;
  random: Random;
  /** Valid copies of each delivery (default 3). */
  copies?: number;
  /** A copy goes out up to this late (uniform). */
  maxLateMs: number;
  /** Chance that a delivery also gets each kind of bad copy. */
  badCopyProbability: number;
}

export interface StormStats {
  deliveries: number;
  validCopies: number;
  /** Valid copies delivered again after a 5xx, 429 or a dead socket. */
  redelivered: number;
  /** Bad copies by kind, and how many the service refused (401). */
  bad: Record<'tampered' | 'stale' | 'wrongSignature', { sent: number; refused: number }>;
  /** Anything that should not happen: a bad copy accepted, a valid copy refused. */
  unexpected: string[];
}

const WRONG_SECRET = 'not-the-secret-0000000000000000';

export class Storm {
  readonly stats: StormStats = { deliveries: 0, validCopies: 0, redelivered: 0, bad: { tampered: { sent: 0, refused: 0 }, stale: { sent: 0, refused: 0 }, wrongSignature: { sent: 0, refused: 0 } }, unexpected: [] };
  private readonly inflight = new Set<Promise<unknown>>();
  private relay?: http.Server;
  relayUrl = '';

  constructor(private readonly o: StormOptions) {}

  /** The relay the sandboxes send DocuSign Connect and Stripe events to. */
  async listen(secrets: { docusign: string; stripe: string }): Promise<void> {
    this.relay = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
        const body = Buffer.concat(chunks).toString('utf8');
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'content-length' && k !== 'host' && k !== 'connection') headers[k] = v;
        const vendor = (req.url ?? '').split('/')[2];
        if (vendor === 'docusign') void this.deliver({ path: '/webhooks/docusign/connect', body, headers, scheme: 'docusign', secret: secrets.docusign });
        else if (vendor === 'stripe') void this.deliver({ path: '/webhooks/stripe', body, headers, scheme: 'stripe', secret: secrets.stripe });
      });
    });
    await new Promise<void>((r) => this.relay!.listen(0, '127.0.0.1', r));
    this.relayUrl = `http://127.0.0.1:${(this.relay.address() as AddressInfo).port}`;
  }

  /**
   * Storms one delivery: `copies` valid copies at random delays (the first at
   * once), plus bad copies. Resolves with the first valid copy's answer (after
   * its own redeliveries), so a caller can tell 202 from an expected 400.
   */
  deliver(d: Delivery): Promise<{ status: number; text: string }> {
    this.stats.deliveries += 1;
    const copies = this.o.copies ?? 3;
    const first = this.track(this.sendValid(d, 0));
    for (let i = 1; i < copies; i++) void this.track(this.sendValid(d, Math.floor(this.o.random() * this.o.maxLateMs)));
    const bad = (kind: keyof StormStats['bad'], make: () => Delivery | undefined) => {
      if (this.o.random() >= this.o.badCopyProbability) return;
      const copy = make();
      if (copy) void this.track(this.sendBad(kind, copy, Math.floor(this.o.random() * this.o.maxLateMs)));
    };
    bad('tampered', () => ({ ...d, body: tamper(d.body) }));
    // Every signature header replaced (DocuSign sends one per key; one good one is enough for it).
    bad('wrongSignature', () => ({ ...d, headers: { ...withoutSignatures(d.headers), ...sign(d.scheme, WRONG_SECRET, d.body, Math.floor(Date.now() / 1000)) } }));
    // DocuSign's HMAC carries no time: a stale copy is just another duplicate there.
    bad('stale', () => (d.scheme === 'docusign' ? undefined : { ...d, headers: { ...d.headers, ...sign(d.scheme, d.secret, d.body, Math.floor(Date.now() / 1000) - 3600) } }));
    return first;
  }

  /** Waits for every copy still on its way. */
  async drain(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  async close(): Promise<void> {
    await this.drain();
    await new Promise<void>((r) => (this.relay ? this.relay.close(() => r()) : r()));
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => {});
    return p;
  }

  private async post(d: Delivery): Promise<{ status: number; text: string }> {
    try {
      const res = await fetch(`${this.o.serviceUrl}${d.path}`, { method: 'POST', headers: d.headers, body: d.body, signal: AbortSignal.timeout(30_000) });
      return { status: res.status, text: await res.text() };
    } catch (err) {
      return { status: 0, text: String((err as Error).cause ?? err) };
    }
  }

  private async sendValid(d: Delivery, delayMs: number): Promise<{ status: number; text: string }> {
    await sleep(delayMs);
    this.stats.validCopies += 1;
    let backoff = 500;
    const giveUp = Date.now() + 15 * 60_000;
    for (;;) {
      const r = await this.post(d);
      const retry = r.status === 0 || r.status === 429 || r.status >= 500;
      if (!retry) return r;
      if (Date.now() > giveUp) {
        this.stats.unexpected.push(`${d.path}: still ${r.status} after 15 minutes of redelivery: ${r.text.slice(0, 200)}`);
        return r;
      }
      this.stats.redelivered += 1;
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 8_000);
    }
  }

  private async sendBad(kind: keyof StormStats['bad'], d: Delivery, delayMs: number): Promise<void> {
    await sleep(delayMs);
    this.stats.bad[kind].sent += 1;
    for (let attempt = 0; attempt < 20; attempt++) {
      const r = await this.post(d);
      // 413: a body over the limit is refused before its signature is read.
      if (r.status === 401 || r.status === 403 || r.status === 413) {
        this.stats.bad[kind].refused += 1;
        return;
      }
      if (r.status === 0 || r.status === 429 || r.status >= 500) {
        await sleep(1_000);
        continue;
      }
      this.stats.unexpected.push(`${kind} copy of ${d.path} answered ${r.status}: ${r.text.slice(0, 200)}`);
      return;
    }
  }
}

const withoutSignatures = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).filter(([k]) => !/signature/i.test(k)));

/** One byte of the body changed (a digit bumped, else a space added): still JSON, no longer what was signed. */
function tamper(body: string): string {
  const i = body.search(/[0-9]/);
  if (i < 0) return body.replace('{', '{ ');
  const digit = Number(body[i]);
  return `${body.slice(0, i)}${(digit + 1) % 10}${body.slice(i + 1)}`;
}

/** The signature headers of each scheme, for `body` at `timestamp` (seconds). */
export function sign(scheme: Scheme, secret: string, body: string, timestamp: number): Record<string, string> {
  switch (scheme) {
    case 'q2c':
      return { 'x-q2c-timestamp': String(timestamp), 'x-q2c-signature': signQ2c(secret, timestamp, body) };
    case 'stripe':
      return { 'stripe-signature': `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}` };
    case 'docusign':
      return { 'x-docusign-signature-1': createHmac('sha256', secret).update(body).digest('base64') };
  }
}
