import type { SandboxVendor } from './context';
import { docusignVendor } from './docusign/docusign.sandbox';
import { salesforceVendor } from './salesforce/salesforce.sandbox';

/**
 * Every vendor sandbox the server mounts. Add a vendor by appending its entry;
 * nothing else in the host changes.
 */
export const SANDBOX_VENDORS: SandboxVendor[] = [
  salesforceVendor,
  docusignVendor,
];
