import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";
import { handoffEnvironment, type TcpConnector } from "../../index.js";
import { handoffLibraryPath } from "../../internal.js";
import { loadFdAddon } from "../../internal.js";
import { listenArgument, serviceNameArgument } from "../arguments.js";
import { clientConfig } from "../client-config.js";
import type { CommandSpec } from "../command-spec.js";
import type { CliConfig } from "../config.js";
import { connectToHub, reportReconnection } from "../connect.js";
import { CliError, UsageError } from "../errors.js";
import { connectorStatus, statusOnSignal } from "../gateway-status.js";
import { HUB_OPTIONS, HUB_TLS_OPTIONS } from "../options/hub-options.js";
import { pidLine } from "../pid-line.js";
import { warnUntilRegistered } from "../service-presence.js";
import { gatewayMode, MODE_OPTION, startConnector } from "./gateway.js";

/** One `--connect service=host:port`. */
interface ConnectSpec {
  service: string;
  listen: string;
}

function parseConnect(values: readonly string[]): ConnectSpec[] {
  if (values.length === 0) {
    throw new UsageError("beamhub run needs at least one --connect SERVICE=HOST:PORT", "run");
  }
  return values.map((value) => {
    const equals = value.indexOf("=");
    if (equals <= 0 || equals === value.length - 1) {
      throw new UsageError(
        `--connect takes SERVICE=HOST:PORT (or SERVICE=PORT), got ${JSON.stringify(value)}`,
        "run",
      );
    }
    const service = serviceNameArgument("run", value.slice(0, equals));
    const listen = value.slice(equals + 1);
    listenArgument("run", listen, `--connect ${value}`);
    return { service, listen };
  });
}

/**
 * `beamhub run --connect SERVICE=HOST:PORT ... -- COMMAND [ARGS...]`: listens on each HOST:PORT
 * as `beamhub connect` does and runs COMMAND with the hand-off library, so the program's own
 * connections to those addresses get the upstream's socket itself (the hub and this process
 * leave the data path). Programs the library cannot reach (static binaries) still get through
 * the ports. Exits with COMMAND's exit code (128 + the signal number if it was killed).
 */
export async function run(
  config: CliConfig,
  options: {
    connect: readonly ConnectSpec[];
    mode: string | undefined;
    command: readonly string[];
  },
  log: (line: string) => void,
): Promise<number> {
  const specs = options.connect;
  const [program, ...args] = options.command;
  if (program === undefined) {
    throw new UsageError("missing -- COMMAND [ARGS...]: the program to run", "run");
  }
  const mode = gatewayMode(config, options.mode);
  const unavailable = mode === "relay" ? undefined : handoffProblem();
  if (unavailable !== undefined) {
    log(`beamhub run: ${unavailable}; connections go through the listening ports instead`);
  }
  const handingOff = mode !== "relay" && unavailable === undefined;
  const hub = await connectToHub(config);
  const dir = await mkdtemp(join(tmpdir(), "beamhub-run-"));
  const connectors: TcpConnector[] = [];
  try {
    for (const [index, spec] of specs.entries()) {
      connectors.push(
        await startConnector(hub, spec.service, {
          listen: spec.listen,
          mode,
          handoffSocket: handingOff ? join(dir, `handoff-${index}.sock`) : undefined,
          log: (line) => log(line),
          // The command prints these itself (the library's "beamhub hand-off: ..." line).
          handoffLog: () => undefined,
        }),
      );
    }
    log(pidLine("run"));
    const stopWaiting = await Promise.all(
      specs.map((spec) => warnUntilRegistered(hub, spec.service, config.hub.text, log)),
    );
    const routes = connectors.flatMap((connector) => connector.handoff?.routes ?? []);
    const environment = routes.length > 0 ? { ...process.env, ...handoffEnvironment(routes) } : process.env;
    let commandDone = false;
    void reportReconnection(hub, config.hub.text, log).then(({ message }) => {
      if (commandDone || message === "") return; // closed by us, below
      log(`${message}; connections made so far go on, new ones fail`);
    });
    const stopStatus = statusOnSignal(
      () =>
        connectors.map((connector, index) => connectorStatus(specs[index]!.service, connector)).join("\n"),
      log,
    );
    try {
      return await runProgram(program, args, environment);
    } finally {
      commandDone = true;
      for (const stop of stopWaiting) stop();
      stopStatus();
    }
  } finally {
    await Promise.all(connectors.map((connector) => connector.close()));
    await hub.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Why programs cannot be handed sockets here (no library, no fd passing), or undefined. */
function handoffProblem(): string | undefined {
  try {
    handoffLibraryPath();
    loadFdAddon();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * Runs the command with inherited stdio; its exit code. SIGTERM and SIGHUP sent to this process
 * are passed on. Ctrl-C's SIGINT reaches the command from the terminal (it is in our process
 * group), so here it is only kept from ending this process before the command does: psql, for
 * one, takes it as "cancel the query" and goes on.
 */
function runProgram(program: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: "inherit", env });
    const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
    const stayForCommand = (): void => undefined;
    const signals: NodeJS.Signals[] = ["SIGTERM", "SIGHUP"];
    for (const signal of signals) process.on(signal, forward);
    process.on("SIGINT", stayForCommand);
    const done = (): void => {
      for (const signal of signals) process.off(signal, forward);
      process.off("SIGINT", stayForCommand);
    };
    child.once("error", (error: NodeJS.ErrnoException) => {
      done();
      // 127 and 126 as a shell would: scripts tell "no such command" from the command's own codes.
      const notFound = error.code === "ENOENT";
      reject(
        new CliError(
          `cannot run ${program}: ${notFound ? "command not found" : error.message}`,
          notFound ? 127 : 126,
          {
            cause: error,
          },
        ),
      );
    });
    child.once("exit", (code, signal) => {
      done();
      resolve(code ?? 128 + (signal === null ? 0 : constants.signals[signal]));
    });
  });
}

/** `beamhub run`: its options and usage. */
export const runCommand: CommandSpec = {
  name: "run",
  operands: [],
  passThrough: "COMMAND [ARGS...]",
  summary: "run COMMAND with its connections to HOST:PORT handed the service's own socket (Linux)",
  description:
    "Listens on each HOST:PORT (or PORT, on 127.0.0.1) as beamhub connect does, runs COMMAND, and exits " +
    "with its exit code (128+N if signal N killed it; 127 if it is not found). COMMAND runs with the " +
    "hand-off library (LD_PRELOAD, Linux): when it connects to one of those addresses, it gets the socket " +
    "the service connected to its endpoint, so it talks to e.g. PostgreSQL itself with no process of ours " +
    "in between:\n" +
    "  beamhub run --connect db.main=127.0.0.1:6432 -- psql -h 127.0.0.1 -p 6432 -U app\n" +
    "Programs that cannot load the library (static binaries) and children that clear LD_PRELOAD still " +
    "reach the service through the port. --mode relay (or an https hub) skips the library. On stderr it " +
    "prints failures, and once how connections go (handed over or relayed). Ctrl-C goes to COMMAND (psql " +
    "cancels its query) and run waits for it; SIGTERM and SIGHUP sent to run are passed on. " +
    "kill -USR2 <pid> prints a status line per --connect.",
  groups: [
    {
      title: "run options",
      inline: true,
      options: {
        connect: {
          type: "string",
          multiple: true,
          value: "SERVICE=HOST:PORT",
          help: "listen on HOST:PORT (or PORT, on 127.0.0.1) for SERVICE; at least one",
        },
        ...MODE_OPTION,
      },
    },
    HUB_OPTIONS,
    HUB_TLS_OPTIONS,
  ],
  run: async (input, io) => {
    const connect = parseConnect(input.list("connect"));
    if (input.passThrough.length === 0) {
      throw new UsageError("missing -- COMMAND [ARGS...]: the program to run", "run");
    }
    return run(
      clientConfig(input),
      { connect, mode: input.string("mode"), command: input.passThrough },
      io.err,
    );
  },
};
