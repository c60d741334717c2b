import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { FaultRegistry } from './faults';
import type { SandboxStore } from './store';
import type { WebhookSender } from './webhooks';

/** What every vendor sandbox plugin receives as its options. */
export interface SandboxContext {
  store: SandboxStore;
  faults: FaultRegistry;
  webhooks: WebhookSender;
  logger: Logger;
}

/** A vendor sandbox: a Fastify plugin mounted under `prefix` (e.g. '/salesforce'). */
export type SandboxPlugin = FastifyPluginAsync<SandboxContext>;

export interface SandboxVendor {
  /** Vendor name as used in faults, state and webhook targets ('salesforce'). */
  vendor: string;
  /** Route prefix, '/' + vendor by convention. */
  prefix: string;
  plugin: SandboxPlugin;
  /**
   * The vendor's error body for a status and message, used for injected
   * faults (5xx, 429), unknown routes and unexpected handler errors.
   */
  errorBody: (status: number, message: string) => unknown;
}
