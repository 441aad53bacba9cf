#!/usr/bin/env node
/**
 * The `beamhub` command. Every subcommand has `--help`; failures print one line saying what
 * went wrong and what to try, and exit with a code from `EXIT` (see `beamhub --help`).
 */
import { parseArgs } from "node:util";
import { validateLabels, VERSION, type Labels } from "../index.js";
import { call } from "./commands/call.js";
import { connect, expose } from "./commands/gateway.js";
import { kv } from "./commands/kv.js";
import { ls } from "./commands/ls.js";
import { serve } from "./commands/serve.js";
import { watch } from "./commands/watch.js";
import { defaultCertDir, loadConfig } from "./config.js";
import { CliError, EXIT } from "./errors.js";

const HELP: Record<string, string> = {
  main: `beamhub ${VERSION} — a service hub: services, channels, byte streams and file descriptors

usage: beamhub <command> [options]

commands:
  serve                       run a hub (Unix socket, mode 0600)
  ls                          list registered services
  watch                       show registrations as they come and go
  call <service> [json|-]     call a service and print its reply
  expose <name> tcp://h:p     serve a TCP endpoint as a hub service
  connect <name> --listen h:p a local TCP port that reaches a service
  kv encode|decode|inspect    Beam's key -> values format

common options:
  --socket PATH     the hub's Unix socket (env BEAMHUB_SOCKET; default $XDG_RUNTIME_DIR/beamhub.sock
                    or <tmpdir>/beamhub-<uid>/beamhub.sock)
  --timeout MS      call timeout (env BEAMHUB_TIMEOUT; default 30000)
  --config FILE     JSON file with the same keys (env BEAMHUB_CONFIG)
  -h, --help        help for a command

exit codes: 0 ok, 1 the call or operation failed, 2 usage error, 3 hub unreachable,
            4 no such service`,
  serve: `usage: beamhub serve [--socket PATH] [--https HOST:PORT | --no-https] [--cert-dir DIR] [--timeout MS]
Runs a hub on a Unix socket (mode 0600; a stale socket file from a crashed hub is replaced, a
live hub is not) and on https://127.0.0.1:8443 (env BEAMHUB_HTTPS; HTTP/2 with a WebSocket
fallback) with a development certificate created once in --cert-dir (env BEAMHUB_CERT_DIR,
default ~/.beamhub/dev-cert). Registers hub.info. Stops on SIGINT/SIGTERM; calls in flight then
fail with "hub is closed".`,
  ls: `usage: beamhub ls [--prefix P] [--label key=value ...] [--json]
Lists registered services as a table (or JSON).`,
  watch: `usage: beamhub watch [--prefix P] [--label key=value ...] [--json]
Prints "added"/"removed" lines (or JSON lines) as services register and go, until Ctrl-C.
Existing registrations come first.`,
  call: `usage: beamhub call <service> [json|-] [--events] [--timeout MS]
Calls <service> with the JSON request (default null; - reads stdin) and prints the reply as
JSON. Binary data prints as {"$bytes": base64}. --events adds a channel as "events" to the
request and prints what the service sends on it as JSON lines.`,
  expose: `usage: beamhub expose <name> tcp://host:port
Registers <name>; every connection made through it (beamhub connect) opens a TCP connection to
host:port. Runs until Ctrl-C or until the hub goes away.`,
  connect: `usage: beamhub connect <name> --listen host:port [--mode auto|handoff|relay]
Listens on host:port (loopback by default); each accepted connection reaches the endpoint behind
service <name>. handoff: the endpoint's socket is passed here as a file descriptor and the hub
leaves the data path; relay: bytes travel over a hub byte stream; auto: handoff when possible.`,
  kv: `usage: beamhub kv encode <json|->    a JSON object of string lists -> kv bytes on stdout
       beamhub kv decode <file|->    kv bytes -> JSON
       beamhub kv inspect <file>     records of an append-only kv log, with offsets and any torn tail`,
};

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

export async function main(argv: string[]): Promise<number> {
  const out = (text: string): void => void process.stdout.write(`${text}\n`);
  const log = (text: string): void => void process.stderr.write(`${text}\n`);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        socket: { type: "string" },
        timeout: { type: "string" },
        config: { type: "string" },
        prefix: { type: "string" },
        label: { type: "string", multiple: true },
        json: { type: "boolean", default: false },
        events: { type: "boolean", default: false },
        listen: { type: "string" },
        https: { type: "string" },
        "no-https": { type: "boolean", default: false },
        "cert-dir": { type: "string" },
        mode: { type: "string" },
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
    switch (command) {
      case "serve":
        return await serve(
          config,
          {
            https: values["no-https"]
              ? undefined
              : (values.https ?? process.env.BEAMHUB_HTTPS ?? "127.0.0.1:8443"),
            certDir: values["cert-dir"] ?? process.env.BEAMHUB_CERT_DIR ?? defaultCertDir(),
          },
          log,
        );
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
        return await connect(config, { name: rest[0], listen: values.listen, mode: values.mode }, log);
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
