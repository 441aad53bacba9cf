import { createInterface } from "node:readline";
import {
  isLagged,
  type ChannelInfo,
  type LagPolicy,
  type PubSubMessage,
  type Published,
} from "../../index.js";
import { channelNameArgument } from "../arguments.js";
import { clientConfig } from "../client-config.js";
import type { CommandSpec } from "../command-spec.js";
import type { CliConfig } from "../config.js";
import { connectToHub } from "../connect.js";
import { CommandDeadline } from "../deadline.js";
import { CliError, EXIT } from "../errors.js";
import { HUB_OPTIONS, HUB_TLS_OPTIONS } from "../options/hub-options.js";
import { table, toJson } from "../output.js";
import { follow } from "../follow.js";
import { openStreamSource, printBroadcasts, publishStream } from "../pubsub-stream.js";

/**
 * `beamhub pub <channel> [json|-] [--text]`: publishes one message (the JSON argument), or with
 * `-` one per line of stdin (JSON lines; `--text`: each line as a string), in order, each after
 * the hub took the previous one. Prints `{"seq", "time"}` of each. `--timeout` bounds each publish.
 */
export async function pub(
  config: CliConfig,
  options: { channel: string; input: string | undefined; text: boolean; stream?: boolean },
  out: (text: string) => void,
  stdinLines: () => AsyncIterable<string>,
): Promise<number> {
  if (options.stream === true) {
    if (options.text) throw new CliError("pub: --text and --stream do not go together", EXIT.usage);
    const source = await openStreamSource(options.input, process.stdin);
    const hub = await connectToHub(config, new CommandDeadline(config.timeout).connectTimeout()).catch(
      (error: unknown) => {
        source.input.destroy();
        throw error;
      },
    );
    try {
      await publishStream(hub, options.channel, source, config.timeout, out);
      return 0;
    } finally {
      await hub.close();
    }
  }
  const parse = (line: string, where: string): unknown => {
    if (options.text) return line;
    try {
      return JSON.parse(line);
    } catch (error) {
      throw new CliError(`${where} is not valid JSON: ${(error as Error).message}`, EXIT.usage, {
        cause: error,
      });
    }
  };
  // A bad argument is a usage error before any connection.
  const single = options.input === "-" ? undefined : parse(options.input ?? "null", "the message");
  const hub = await connectToHub(config, new CommandDeadline(config.timeout).connectTimeout());
  const publish = async (data: unknown): Promise<void> => {
    const deadline = new CommandDeadline(config.timeout);
    let published: Published;
    try {
      published = await deadline.race(
        hub.publish(options.channel, data),
        () =>
          new CliError(
            `publish to ${options.channel} failed: no answer within --timeout ${deadline.timeoutMs} ms`,
            EXIT.failed,
          ),
      );
    } catch (error) {
      if (error instanceof CliError) throw error;
      const failure = error as { code?: string; message: string };
      throw new CliError(
        `publish to ${options.channel} failed: ${failure.code ?? ""} ${failure.message}`.trim(),
        EXIT.failed,
        {
          cause: error,
        },
      );
    }
    out(toJson({ seq: published.seq, time: published.time }, false));
  };
  try {
    if (options.input !== "-") await publish(single);
    else {
      let lineNumber = 0;
      for await (const line of stdinLines()) {
        lineNumber++;
        if (line.trim() === "" && !options.text) continue;
        await publish(parse(line, `stdin line ${lineNumber}`));
      }
    }
    return 0;
  } finally {
    await hub.close();
  }
}

/** Options of {@link sub}. */
export interface SubOptions {
  channel: string;
  history: boolean;
  lag: LagPolicy;
  ring: number | undefined;
  echo: boolean;
  json: boolean;
  /** Exit after this many messages (Lagged notices not counted; broadcasts with `stream`). */
  count: number | undefined;
  /** Print byte-stream broadcasts' bytes (`--stream`), not messages. */
  stream?: boolean;
  /** With `stream`: written after each broadcast's bytes. */
  delimiter?: Uint8Array | undefined;
}

/**
 * `beamhub sub <channel> [--history] [--lag drop|wait] [--json]`: prints the channel's
 * messages as they come, until Ctrl-C (or `--count N`). Text: `SEQ FROM DATA` (data as JSON, a
 * string as is); `--json`: one JSON object per message. A `Lagged` notice prints as
 * `(lagged N)` / `{"lagged": N}`. A byte-stream broadcast's message is printed and its copy
 * released unread. Across a lost connection it resubscribes from the last seq.
 */
export async function sub(
  config: CliConfig,
  options: SubOptions,
  out: (text: string) => void,
  log: (text: string) => void,
): Promise<number> {
  const spec = {
    command: "sub",
    endedByHub: "the hub ended the subscription (it is closing)",
    failure: (error: unknown): Error => {
      const failure = error as { code?: string; message: string };
      return new CliError(
        `subscribe to ${options.channel} failed: ${failure.code ?? ""} ${failure.message}`.trim(),
        EXIT.failed,
        { cause: error },
      );
    },
  };
  // Ctrl-C while a broadcast is read resets its copy: that is the exit asked for (follow says 0).
  return follow(config, spec, log, async (hub, signal) => {
    const subscription = hub.subscribe(options.channel, {
      history: options.history,
      lag: options.lag,
      ring: options.ring,
      echo: options.echo,
      signal,
    });
    if (options.stream === true) {
      const { delimiter, count } = options;
      return printBroadcasts(subscription, { delimiter, count }, process.stdout, log);
    }
    let seen = 0;
    for await (const item of subscription) {
      // A broadcast's copy is not read here: released at once, so that it never holds the
      // publisher back (a `wait` subscriber's unread copy would, for the publish timeout).
      const broadcast = !isLagged(item) && item.stream !== undefined;
      if (broadcast) item.stream!.reset("beamhub sub does not read byte-stream broadcasts");
      out(
        options.json
          ? toJson(broadcast ? { ...item, stream: true } : item, false)
          : isLagged(item)
            ? `(lagged ${item.lagged})`
            : formatMessage(item) + (broadcast ? " (a byte-stream broadcast, not read)" : ""),
      );
      if (!isLagged(item) && options.count !== undefined && ++seen >= options.count) return true;
    }
    return false;
  });
}

function formatMessage(message: PubSubMessage): string {
  const data = typeof message.data === "string" ? message.data : toJson(message.data, false);
  return `${message.seq} ${message.from} ${data}`;
}

/** `beamhub channels [--json]`: the hub's pub/sub channels this client may subscribe to. */
export async function channels(
  config: CliConfig,
  options: { json: boolean },
  out: (text: string) => void,
): Promise<number> {
  const deadline = new CommandDeadline(config.timeout);
  const hub = await connectToHub(config, deadline.connectTimeout());
  try {
    const list: ChannelInfo[] = await deadline.race(
      hub.channels(),
      () =>
        new CliError(
          `the hub at ${config.hub.text} did not list its channels within --timeout ${deadline.timeoutMs} ms`,
          EXIT.failed,
        ),
    );
    if (options.json) out(toJson(list, true));
    else if (list.length === 0) out("no channels");
    else {
      out(
        table(
          // LAGGED last: scripts that read the columns before it by position go on working.
          ["NAME", "SUBSCRIBERS", "HISTORY", "BYTES", "SEQ", "RATE/S", "LAGGED"],
          list.map((info) => [
            info.name,
            String(info.subscribers),
            String(info.history.count),
            String(info.history.bytes),
            String(info.seq),
            info.rate.toFixed(1),
            // A hub of an older version lists no `lagged`.
            info.lagged === undefined ? "-" : String(info.lagged),
          ]),
        ),
      );
    }
    return 0;
  } finally {
    await hub.close();
  }
}

/** `--lag drop|wait` (also the long names) as the policy. */
function lagOption(value: string | undefined): LagPolicy {
  if (value === undefined || value === "drop" || value === "drop-oldest") return "drop-oldest";
  if (value === "wait") return "wait";
  throw new CliError(`sub: --lag must be drop or wait, got ${JSON.stringify(value)}`, EXIT.usage);
}

/** A positive integer option, or undefined when not given. */
function countOption(command: string, name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const count = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(count) || count < 1) {
    throw new CliError(
      `${command}: --${name} must be a positive integer, got ${JSON.stringify(value)}`,
      EXIT.usage,
    );
  }
  return count;
}

export const pubCommand: CommandSpec = {
  name: "pub",
  operands: [{ name: "<channel>" }, { name: "json|-|file", optional: true }],
  summary: "publish to a pub/sub channel",
  description:
    "Publishes the JSON message (default null) to <channel>, or with - one message per line of stdin " +
    "(JSON lines; with --text every line as a string), in order. Prints each one's seq and time as JSON. " +
    "Subscribers see it tagged with this client's identity, as the hub authenticated it. " +
    "--timeout bounds each publish (a publish waits while a subscriber with --lag wait is full). " +
    "With --stream, the operand is a file (default -: stdin) whose bytes go out as one byte-stream " +
    'broadcast to every subscriber of the moment (the message\'s data is {"name", "size"} of a file, null ' +
    'for stdin); it prints {"seq", "time", "bytes"} once every byte was handed to the hub: ' +
    "beamhub pub --stream logs app.log, tar c dir | beamhub pub --stream backups.",
  groups: [
    {
      title: "pub options",
      inline: true,
      options: {
        text: { type: "boolean", help: "publish each line as a string instead of parsing JSON" },
        stream: {
          type: "boolean",
          help: "broadcast the bytes of the file operand (or of stdin, - or none) as one byte stream",
        },
      },
    },
    HUB_OPTIONS,
    HUB_TLS_OPTIONS,
  ],
  run: async (input, io) => {
    const [channel, message] = input.operands;
    const lines = async function* (): AsyncIterable<string> {
      yield* createInterface({ input: process.stdin, crlfDelay: Infinity });
    };
    return pub(
      clientConfig(input),
      {
        channel: channelNameArgument("pub", channel!),
        input: message,
        text: input.flag("text"),
        stream: input.flag("stream"),
      },
      io.out,
      lines,
    );
  },
};

export const subCommand: CommandSpec = {
  name: "sub",
  operands: [{ name: "<channel>" }],
  summary: "print a pub/sub channel's messages as they come",
  description:
    "Prints <channel>'s messages until Ctrl-C: SEQ FROM DATA lines (a string as is, other data as JSON), " +
    "or JSON lines with --json. With --history the messages the hub keeps come first, oldest first, then " +
    "live ones with no gap. When the hub goes away it reconnects and goes on from the last message it " +
    'printed. A subscriber that cannot keep up loses the oldest messages and prints "(lagged N)" ' +
    "(--lag drop, the default), or makes publishers wait (--lag wait). Exits with 3 if it gives up reconnecting. " +
    "With --stream it writes the bytes of byte-stream broadcasts to stdout instead, one broadcast after " +
    "another (--delimiter TEXT after each; --once exits after the first, --count N after N), and says on stderr " +
    "where each starts; other messages are skipped. --stream makes --lag wait the default, so that no byte " +
    "is dropped (the publisher goes at the pace of its slowest such subscriber): " +
    "beamhub sub --stream logs --once > app.log.",
  groups: [
    {
      title: "sub options",
      inline: true,
      options: {
        history: { type: "boolean", help: "first the messages the hub keeps (by default only new ones)" },
        lag: {
          type: "string",
          value: "drop|wait",
          help: "when this subscriber falls behind: drop the oldest (default), or make publishers wait",
        },
        ring: {
          type: "string",
          value: "N",
          help: "messages the hub holds unread for this subscriber",
          defaultText: "1024",
        },
        "no-echo": { type: "boolean", help: "leave out this client's own publications" },
        count: { type: "string", value: "N", help: "exit after N messages (broadcasts with --stream)" },
        stream: {
          type: "boolean",
          help: "write byte-stream broadcasts' bytes to stdout (raw), not messages",
        },
        once: { type: "boolean", help: "with --stream: exit after the first broadcast" },
        delimiter: { type: "string", value: "TEXT", help: "with --stream: written after each broadcast" },
        json: { type: "boolean", help: "JSON lines for scripts instead of text" },
      },
    },
    HUB_OPTIONS,
    HUB_TLS_OPTIONS,
  ],
  run: async (input, io) => {
    const [channel] = input.operands;
    const stream = input.flag("stream");
    const once = input.flag("once");
    const delimiter = input.string("delimiter");
    if (!stream && (once || delimiter !== undefined)) {
      throw new CliError("sub: --once and --delimiter go with --stream", EXIT.usage);
    }
    if (stream && input.flag("json"))
      throw new CliError("sub: --json and --stream do not go together", EXIT.usage);
    const count = countOption("sub", "count", input.string("count"));
    if (once && count !== undefined) throw new CliError("sub: give --once or --count, not both", EXIT.usage);
    const lag = input.string("lag");
    return sub(
      clientConfig(input),
      {
        stream,
        delimiter: delimiter === undefined ? undefined : Buffer.from(delimiter),
        channel: channelNameArgument("sub", channel!),
        history: input.flag("history"),
        // A byte pipe with a hole is a broken file: --stream waits unless told otherwise.
        lag: stream && lag === undefined ? "wait" : lagOption(lag),
        ring: countOption("sub", "ring", input.string("ring")),
        echo: !input.flag("no-echo"),
        json: input.flag("json"),
        count: once ? 1 : count,
      },
      io.out,
      io.err,
    );
  },
};

export const channelsCommand: CommandSpec = {
  name: "channels",
  operands: [],
  summary: "list pub/sub channels",
  description:
    "Lists the hub's pub/sub channels this client may subscribe to: subscribers, messages kept as history " +
    "(and their estimated bytes), the newest seq, the publish rate over the last 10 s and the messages " +
    "dropped for slow subscribers (LAGGED: one per subscriber and message, told to it as lagged). " +
    "beamhub top shows them live.",
  groups: [
    {
      title: "channels options",
      inline: true,
      options: { json: { type: "boolean", help: "JSON for scripts instead of text" } },
    },
    HUB_OPTIONS,
    HUB_TLS_OPTIONS,
  ],
  run: async (input, io) => channels(clientConfig(input), { json: input.flag("json") }, io.out),
};
