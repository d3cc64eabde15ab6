/**
 * The registry of `umbra` subcommands, in help order. Add one line per
 * command; each command lives in its own file beside this one.
 */
import type { Command } from '../command.js';
import { configCheckCommand } from './config-check.js';
import { abortCommand, pauseCommand, promoteCommand, resumeCommand, rollbackCommand } from './control.js';
import { daemonCommand } from './daemon.js';
import { deployCommand } from './deploy.js';
import { envoyCommand } from './envoy.js';
import { experimentStartCommand, experimentStatusCommand, experimentStopCommand } from './experiment.js';
import { explainCommand } from './explain.js';
import { historyCommand } from './history.js';
import { modelTrainCommand } from './model-train.js';
import { replayCommand } from './replay.js';
import { reportCommand } from './report.js';
import { statusCommand } from './status.js';

export function commands(): Command[] {
  return [
    daemonCommand,
    envoyCommand,
    configCheckCommand,
    statusCommand,
    deployCommand,
    promoteCommand,
    rollbackCommand,
    pauseCommand,
    resumeCommand,
    abortCommand,
    experimentStartCommand,
    experimentStatusCommand,
    experimentStopCommand,
    historyCommand,
    explainCommand,
    reportCommand,
    replayCommand,
    modelTrainCommand,
  ];
}
