/**
 * The registry of `umbra` subcommands, in help order. Add one line per
 * command; each command lives in its own file beside this one.
 */
import type { Command } from '../command.js';
import { configCheckCommand } from './config-check.js';
import { daemonCommand } from './daemon.js';
import { envoyCommand } from './envoy.js';

export function commands(): Command[] {
  return [daemonCommand, envoyCommand, configCheckCommand];
}
