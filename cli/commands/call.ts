import {
  Channel,
  ReconnectGaveUpError,
  ReconnectTimeoutError,
  RequestInterruptedError,
  ServiceError,
  ServiceNotFoundError,
  type BeamhubError,
  HttpsRemoteHub,
  type CallOptions,
  type ConnectedHub,
  type Labels,
} from "../../index.js";
import { httpsOptions } from "../https-options.js";
import { labelsOption, serviceNameArgument } from "../arguments.js";
import { clientConfig } from "../client-config.js";
import type { CommandSpec } from "../command-spec.js";
import type { CliConfig } from "../config.js";
import { connectToHubWithin } from "../connect.js";
import { CommandDeadline } from "../deadline.js";
import { CliError, EXIT } from "../errors.js";
import { HUB_OPTIONS, HUB_TLS_OPTIONS } from "../options/hub-options.js";
import { toJson } from "../output.js";

/**
 * `beamhub call <service> [json|-] [--events]`: calls a service and prints its reply as JSON.
 * With `--events`, the request also carries a channel as `events`; whatever the service sends on
 * it is printed as JSON lines while the call runs.
 *
 * `--timeout` covers the whole command: a hub that cannot be reached (it may be restarting) is
 * tried again with backoff until then, and after such a wait the call also waits, within what
 * is left, for its service to be registered again. A call the hub already had when it went away
 * fails (exit 1) and is not repeated: it may have run.
 */
export async function call(
  config: CliConfig,
  options: {
    service: string;
    input: string | undefined;
    events: boolean;
    labels?: Labels;
    /** `--time`: connect, call and total durations on stderr. */
    time?: boolean;
    /** `--verbose`: where and how it connected, on stderr. */
    verbose?: boolean;
  },
  out: (text: string) => void,
  readStdin: () => Promise<string>,
  err: (text: string) => void = () => undefined,
): Promise<number> {
  const text = options.input === "-" ? await readStdin() : (options.input ?? "null");
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new CliError(`the request is not valid JSON: ${(error as Error).message}`, EXIT.usage, {
      cause: error,
    });
  }
  const deadline = new CommandDeadline(config.timeout);
  const started = performance.now();
  const { hub, attempts } = await connectToHubWithin(config, config.timeout);
  const connected = performance.now();
  if (options.verbose === true) err(describeConnection(config, hub, attempts, connected - started));
  let called: number | undefined;
  // Only instances carrying every --label may serve the call, as CallOptions.labels says.
  const callOptions: CallOptions = options.labels === undefined ? {} : { labels: options.labels };
  // The hub was restarting: its services are coming back, give them the time that is left.
  if (attempts > 1) callOptions.waitForService = true;
  let printing: Promise<void> | undefined;
  try {
    if (options.events) {
      const [mine, theirs] = Channel.pair();
      data = { ...(data !== null && typeof data === "object" ? data : { data }), events: theirs };
      printing = (async () => {
        for await (const message of mine) out(toJson(message.data, false));
      })();
    }
    const reply = await deadline.race(
      (async () => {
        const callStarted = performance.now();
        const answer = await hub
          .call(options.service, data, {
            ...callOptions,
            timeout: deadline.remaining() ?? 0,
          })
          .finally(() => (called = performance.now() - callStarted));
        await printing;
        return answer;
      })(),
      () =>
        new CliError(
          `call to ${options.service} failed: ETIMEOUT: no reply within --timeout ${deadline.timeoutMs} ms (connecting included)`,
          EXIT.failed,
        ),
    );
    out(toJson(reply, true));
    return 0;
  } catch (error) {
    if (error instanceof CliError) throw error;
    if (error instanceof ServiceNotFoundError)
      throw new CliError(error.message, EXIT.notFound, { cause: error });
    if (error instanceof ServiceError) {
      throw new CliError(
        `${options.service} failed: ${error.remoteName} ${error.code}: ${error.message}`,
        EXIT.failed,
        {
          cause: error,
        },
      );
    }
    if (error instanceof RequestInterruptedError) {
      throw new CliError(
        `call to ${options.service}: the connection to the hub was lost while the call was in flight; ` +
          "it was not repeated (it may or may not have run)",
        EXIT.failed,
        { cause: error },
      );
    }
    if (error instanceof ReconnectTimeoutError || error instanceof ReconnectGaveUpError) {
      throw new CliError(`call to ${options.service} failed: ${error.message}`, EXIT.unreachable, {
        cause: error,
      });
    }
    const failure = error as BeamhubError;
    throw new CliError(
      `call to ${options.service} failed: ${failure.code ?? ""} ${failure.message}`.trim(),
      EXIT.failed,
      {
        cause: error,
      },
    );
  } finally {
    if (options.time === true) {
      const total = performance.now() - started;
      err(
        `time: connect ${(connected - started).toFixed(1)} ms, call ${called === undefined ? "-" : called.toFixed(1)} ms, ` +
          `total ${total.toFixed(1)} ms`,
      );
    }
    await hub.close();
  }
}

/** `--verbose`: the hub's address, the transport that carries the session, the attempts. */
function describeConnection(config: CliConfig, hub: ConnectedHub, attempts: number, ms: number): string {
  const transport =
    hub instanceof HttpsRemoteHub
      ? `https over ${hub.transport === "websocket" ? "a WebSocket (HTTP/1.1)" : "HTTP/2"}` +
        (hub.fallbackCause === undefined ? "" : ` (HTTP/2 failed: ${hub.fallbackCause.message})`)
      : config.hub.kind === "https"
        ? "https"
        : config.hub.kind;
  const identity =
    config.hub.kind === "https"
      ? `; credentials: ${describeCredentials(config.hub.url, config)}`
      : "; identity: this process's uid";
  return (
    `connected to ${config.hub.text} (from ${config.hubSource}) via ${transport} in ${ms.toFixed(1)} ms` +
    `${attempts > 1 ? ` after ${attempts} attempts` : ""}${identity}; call timeout ${config.timeout} ms`
  );
}

/** Which credentials an https connection presented (never the secret itself). */
function describeCredentials(url: URL, config: CliConfig): string {
  const { options } = httpsOptions(url, config.tls);
  const kinds = [
    options.token === undefined ? undefined : "a bearer token",
    options.cert === undefined ? undefined : "a client certificate",
  ].filter((kind) => kind !== undefined);
  return kinds.length === 0 ? "none (anonymous)" : kinds.join(" and ");
}

/** `beamhub call`: its arguments, options and usage. */
export const callCommand: CommandSpec = {
  name: "call",
  operands: [{ name: "<service>" }, { name: "json|-", optional: true }],
  summary: "call a service and print its reply",
  description:
    "Calls <service> with the JSON request (default null; - reads stdin) and prints the reply as JSON. " +
    'Binary data prints as {"$bytes": base64}.\n' +
    "--timeout covers the whole command: a hub that cannot be reached (it may be restarting) is tried " +
    "again until then, and the call then waits, within what is left, for its service to be registered " +
    "again. If the hub goes away while it has the call, the call fails (exit 1) and is not repeated: it " +
    "may have run. --timeout 0 means no limit (and one connection attempt).",
  groups: [
    {
      title: "call options",
      inline: true,
      options: {
        events: {
          type: "boolean",
          help: 'adds a channel as "events" to the request and prints what the service sends on it as JSON lines',
        },
        label: {
          type: "string",
          multiple: true,
          value: "KEY=VALUE",
          help: "only an instance carrying this label may serve the call (all of them, when repeated); none: exit 4",
        },
        time: {
          type: "boolean",
          help: 'prints how long connecting, the call and the whole took on stderr ("time: connect 3.1 ms, call 0.8 ms, total 4.2 ms")',
        },
        verbose: {
          type: "boolean",
          help: "prints on stderr where it connected, over which transport, with which kind of credentials",
        },
      },
    },
    HUB_OPTIONS,
    HUB_TLS_OPTIONS,
  ],
  run: async (input, io) => {
    const service = serviceNameArgument("call", input.operands[0]!);
    const labels = labelsOption("call", input.list("label"));
    return call(
      clientConfig(input),
      {
        service,
        input: input.operands[1],
        events: input.flag("events"),
        labels,
        time: input.flag("time"),
        verbose: input.flag("verbose"),
      },
      io.out,
      async () => (await io.readStdin()).toString(),
      io.err,
    );
  },
};
