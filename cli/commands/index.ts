import type { CommandSpec } from "../command-spec.js";
import { caCommand } from "./ca.js";
import { callCommand } from "./call.js";
import { connectCommand } from "./connect.js";
import { enrollCommand } from "./enroll.js";
import { exposeCommand } from "./expose.js";
import { infoCommand } from "./info.js";
import { kvCommand } from "./kv.js";
import { lsCommand } from "./ls.js";
import { channelsCommand, pubCommand, subCommand } from "./pubsub.js";
import { runCommand } from "./run.js";
import { serveCommand } from "./serve.js";
import { sessionsCommand } from "./sessions.js";
import { taskCommand } from "./task.js";
import { topCommand } from "./top.js";
import { watchCommand } from "./watch.js";

/** Every `beamhub` command, in the order `beamhub --help` lists them. */
export const COMMANDS: readonly CommandSpec[] = [
  serveCommand,
  lsCommand,
  infoCommand,
  sessionsCommand,
  topCommand,
  watchCommand,
  callCommand,
  pubCommand,
  subCommand,
  channelsCommand,
  exposeCommand,
  connectCommand,
  runCommand,
  taskCommand,
  caCommand,
  enrollCommand,
  kvCommand,
];
