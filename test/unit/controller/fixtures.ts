/** A one-service configuration (checkout: v1 stable, v2 to deploy) for the controller's unit tests. */
import { parseConfig } from '../../../daemon/config/load.js';
import type { UmbraConfig } from '../../../daemon/config/schema.js';

export function checkoutConfig(extra = ''): UmbraConfig {
  const parsed = parseConfig(`
services:
  - name: checkout
    stable: v1
    provisioner:
      kind: static
      versions:
        v1: { endpoints: ['127.0.0.1:9001'] }
        v2: { endpoints: ['127.0.0.1:9002'] }
${extra}`);
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  return parsed.config;
}
