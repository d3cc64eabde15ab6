/**
 * The one place that maps a provisioner `kind` to its implementation.
 * Unknown kinds are refused: a typo never falls back to another target.
 */
import type { ProvisionerConfig } from '../config/schema.js';
import { ExecProvisioner } from './exec.js';
import { type ProcessOptions, ProcessProvisioner } from './process.js';
import type { Provisioner } from './provisioner.js';
import { ProvisionError } from './provisioner.js';
import { StaticProvisioner } from './static.js';

/** The kinds this build knows. */
export const PROVISIONER_KINDS = ['process', 'static', 'exec'] as const;

/** A provisioner for one service; throws {@link ProvisionError} for an unknown kind. */
export function createProvisioner(config: ProvisionerConfig, opts: ProcessOptions): Provisioner {
  const kind = (config as { kind: unknown }).kind;
  switch (config.kind) {
    case 'process':
      return new ProcessProvisioner(config, opts);
    case 'static':
      return new StaticProvisioner(config);
    case 'exec':
      return new ExecProvisioner(config, { service: opts.service });
    default:
      throw new ProvisionError(
        `unknown provisioner kind '${String(kind)}' (known: ${PROVISIONER_KINDS.join(', ')})`,
      );
  }
}
