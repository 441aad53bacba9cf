#!/usr/bin/env node
/**
 * The `beamhub` command. Every subcommand has `--help`; failures print one line saying what
 * went wrong and what to try, and exit with a code from `EXIT` (see `beamhub --help`).
 */
import { parseArgs } from "node:util";
import { validateLabels, VERSION, type Labels } from "../index.js";
import { call } from "./commands/call.js";
import { connect, expose } from "./commands/gateway.js";
import { run } from "./commands/run.js";
import { kv } from "./commands/kv.js";
import { ls } from "./commands/ls.js";
import { serve } from "./commands/serve.js";
import { watch } from "./commands/watch.js";
import { loadConfig } from "./config.js";
import { CliError, EXIT } from "./errors.js";
import { HELP } from "./help.js";
import { resolveServeOptions } from "./serve-options.js";
import type { HubAddress } from "./hub-address.js";

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function parseLabels(values: string[] | undefined): Labels | undefined {
  if (values === undefined || values.length === 0) return undefined;
  const labels: Record<string, string> = {};
  for (const value of values) {
    const equals = value.indexOf("=");
    if (equals <= 0) throw new CliError(`--label takes key=value, got ${JSON.stringify(value)}`, EXIT.usage);
    labels[value.slice(0, equals)] = value.slice(equals + 1);
  }
  return validateLabels(labels);
}

/** Client TLS flags, and what `serve` takes instead. */
const CLIENT_ONLY: Record<string, string> = {
  ca: "--client-ca FILE (the CA of client certificates)",
  cert: "--tls-cert FILE (its own certificate)",
  key: "--tls-key FILE (its certificate's key)",
  token: "--tokens FILE (the tokens it accepts)",
  transport: "HTTP/2 and WebSocket peers on one port",
};

/** Flags only `serve` reads. */
const SERVE_ONLY = [
  "listen-https",
  "https",
  "no-https",
  "tls-cert",
  "tls-key",
  "dev-cert-hosts",
  "client-ca",
  "tokens",
  "require-auth",
  "socket-mode",
  "max-unix-connections",
  "max-unix-connections-per-uid",
  "allow-origin",
  "trusted-proxy",
  "max-connections",
  "max-connections-per-address",
  "keepalive",
  "max-frame-size",
  "max-streams",
  "max-channels",
  "max-pending-requests",
  "max-sessions",
  "max-sessions-per-identity",
  "max-body-size",
];

/** TLS flags with a Unix hub are almost always a forgotten --hub https://...: say so. */
function checkHubFlags(command: string, hub: HubAddress, flags: Record<string, unknown>): void {
  if (command === "kv") return;
  if (command === "serve") {
    if (flags.hub !== undefined && hub.kind !== "unix") {
      throw new CliError(
        "serve listens on a Unix socket (--socket PATH) and on --listen-https HOST:PORT; --hub names a hub to talk to",
        EXIT.usage,
      );
    }
    // --cert for --tls-cert is an easy slip, and the client flag would be silently ignored.
    const clientFlag = Object.keys(CLIENT_ONLY).find((flag) => flags[flag] !== undefined);
    if (clientFlag !== undefined) {
      throw new CliError(
        `--${clientFlag} is a client option; serve takes ${CLIENT_ONLY[clientFlag]} (see beamhub serve --help)`,
        EXIT.usage,
      );
    }
    return;
  }
  const serveFlag = SERVE_ONLY.find((flag) => flags[flag] !== undefined);
  if (serveFlag !== undefined) {
    throw new CliError(`--${serveFlag} applies only to beamhub serve`, EXIT.usage);
  }
  if (hub.kind === "unix") {
    const given = ["ca", "cert", "key", "token", "transport"].filter((flag) => flags[flag] !== undefined);
    if (given.length > 0) {
      throw new CliError(
        `${given.map((flag) => `--${flag}`).join(", ")} ${given.length === 1 ? "applies" : "apply"} only to an https:// hub, and the hub is ${hub.text}: ` +
          "add --hub https://host:port",
        EXIT.usage,
      );
    }
  }
}

export async function main(argv: string[]): Promise<number> {
  const out = (text: string): void => void process.stdout.write(`${text}\n`);
  const log = (text: string): void => void process.stderr.write(`${text}\n`);
  // `beamhub run ... -- COMMAND ARGS`: what follows `--` is the command's, never ours.
  const dashes = argv.indexOf("--");
  const commandLine = dashes < 0 ? [] : argv.slice(dashes + 1);
  let parsed;
  try {
    parsed = parseArgs({
      args: dashes < 0 ? argv : argv.slice(0, dashes),
      allowPositionals: true,
      options: {
        hub: { type: "string" },
        socket: { type: "string" },
        ca: { type: "string" },
        cert: { type: "string" },
        key: { type: "string" },
        token: { type: "string" },
        transport: { type: "string" },
        timeout: { type: "string" },
        "reconnect-attempts": { type: "string" },
        "give-up-after": { type: "string" },
        config: { type: "string" },
        prefix: { type: "string" },
        label: { type: "string", multiple: true },
        json: { type: "boolean", default: false },
        events: { type: "boolean", default: false },
        listen: { type: "string" },
        "listen-https": { type: "string" },
        https: { type: "string" },
        "no-https": { type: "boolean" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        "dev-cert-hosts": { type: "string" },
        "client-ca": { type: "string" },
        tokens: { type: "string" },
        "require-auth": { type: "boolean" },
        "socket-mode": { type: "string" },
        "max-unix-connections": { type: "string" },
        "max-unix-connections-per-uid": { type: "string" },
        "allow-origin": { type: "string", multiple: true },
        "trusted-proxy": { type: "string", multiple: true },
        "max-connections": { type: "string" },
        "max-connections-per-address": { type: "string" },
        keepalive: { type: "string" },
        "max-frame-size": { type: "string" },
        "max-streams": { type: "string" },
        "max-channels": { type: "string" },
        "max-pending-requests": { type: "string" },
        "max-sessions": { type: "string" },
        "max-sessions-per-identity": { type: "string" },
        "max-body-size": { type: "string" },
        "cert-dir": { type: "string" },
        mode: { type: "string" },
        "handoff-socket": { type: "string" },
        connect: { type: "string", multiple: true },
        help: { type: "boolean", short: "h", default: false },
        version: { type: "boolean", short: "v", default: false },
      },
    });
  } catch (error) {
    log(`beamhub: ${(error as Error).message}\n${HELP.main}`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.version) {
    out(VERSION);
    return 0;
  }
  if (command === undefined || values.help) {
    (command === undefined && !values.help ? log : out)(HELP[command ?? "main"] ?? HELP.main!);
    return command === undefined && !values.help ? EXIT.usage : 0;
  }
  try {
    const config = loadConfig(values);
    checkHubFlags(command, config.hub, values);
    switch (command) {
      case "serve":
        return await serve(config, resolveServeOptions(values, config), log);
      case "ls":
        return await ls(
          config,
          { prefix: values.prefix, labels: parseLabels(values.label), json: values.json },
          out,
        );
      case "watch":
        return await watch(
          config,
          { prefix: values.prefix, labels: parseLabels(values.label), json: values.json },
          out,
          log,
        );
      case "call":
        if (rest[0] === undefined) throw new CliError(`missing <service>\n${HELP.call}`, EXIT.usage);
        return await call(
          config,
          { service: rest[0], input: rest[1], events: values.events },
          out,
          async () => (await readStdin()).toString(),
        );
      case "expose":
        return await expose(config, { name: rest[0], target: rest[1] }, log);
      case "connect":
        return await connect(
          config,
          {
            name: rest[0],
            listen: values.listen,
            mode: values.mode,
            handoffSocket: values["handoff-socket"],
          },
          log,
        );
      case "run":
        return await run(
          config,
          { connect: values.connect ?? [], mode: values.mode, command: commandLine, stray: rest },
          log,
        );
      case "kv":
        return await kv(rest[0], rest[1], {
          out,
          write: (bytes) => void process.stdout.write(bytes),
          readStdin,
        });
      default:
        throw new CliError(`unknown command ${JSON.stringify(command)}\n${HELP.main}`, EXIT.usage);
    }
  } catch (error) {
    if (error instanceof CliError) {
      log(`beamhub: ${error.message}`);
      return error.exitCode;
    }
    log(`beamhub: ${(error as Error)?.message ?? String(error)}`);
    return EXIT.failed;
  }
}

process.exitCode = await main(process.argv.slice(2));
