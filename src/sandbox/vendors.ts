import type { SandboxVendor } from './context';
import { docusignVendor } from './docusign/docusign.sandbox';
import { kantataVendor } from './kantata/kantata.sandbox';
import { NETSUITE_VENDOR } from './netsuite/netsuite.sandbox';
import { STRIPE_VENDOR } from './stripe/stripe.sandbox';
import { AVALARA_VENDOR } from './avalara/avalara.sandbox';
import { salesforceVendor } from './salesforce/salesforce.sandbox';

/**
 * Every vendor sandbox the server mounts. Add a vendor by appending its entry;
 * nothing else in the host changes.
 */
export const SANDBOX_VENDORS: SandboxVendor[] = [
  salesforceVendor,
  docusignVendor,
  kantataVendor,
  NETSUITE_VENDOR,
  STRIPE_VENDOR,
  AVALARA_VENDOR,
];
