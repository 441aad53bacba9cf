import type { HubStats } from "../../index.js";
import { channelPanel, type ChannelReadings } from "../../internal.js";
import { clientConfig } from "../client-config.js";
import type { CommandSpec } from "../command-spec.js";
import type { CliConfig } from "../config.js";
import { connectToHub } from "../connect.js";
import { CliError, EXIT } from "../errors.js";
import { HUB_OPTIONS, HUB_TLS_OPTIONS } from "../options/hub-options.js";
import { renderTop, topRows } from "../top-frame.js";
import { stopOnSignals } from "../follow.js";
import { figuresFailure } from "./figures-failure.js";

/** Clear the screen and go home; hide and show the cursor (ANSI). */
const CLEAR = "\x1b[H\x1b[2J";
const HIDE_CURSOR = "\x1b[?25l";
const SHOW_CURSOR = "\x1b[?25h";

/** Where `top` draws, and what it reads keys from. */
export interface TopTerminal {
  write(text: string): void;
  /** Rows of the terminal (undefined: not a terminal; frames are printed one after another). */
  readonly rows: number | undefined;
  /** Calls `onKey` with each key pressed (raw mode), until the returned function is called. */
  keys(onKey: (key: string) => void): () => void;
}

/** The process's terminal: stdout, and stdin in raw mode when it is one. */
export function processTerminal(): TopTerminal {
  return {
    write: (text) => void process.stdout.write(text),
    rows: process.stdout.isTTY ? process.stdout.rows : undefined,
    keys(onKey) {
      const stdin = process.stdin;
      if (!stdin.isTTY) return () => undefined;
      stdin.setRawMode(true);
      stdin.resume();
      const listener = (chunk: Buffer): void => onKey(chunk.toString("utf8"));
      stdin.on("data", listener);
      return () => {
        stdin.off("data", listener);
        stdin.setRawMode(false);
        stdin.pause();
      };
    },
  };
}

/**
 * `beamhub top [--interval MS] [--count N]`: a live view of the hub — services by call rate, with
 * errors per second, calls in flight and the p99 latency of the last interval, and pub/sub
 * channels by publish rate, with subscribers, drops for slow subscribers and history. On a terminal it
 * redraws in place until q or Ctrl-C; otherwise it prints frames one after another (like
 * `top -b`). Needs `hub.stats` access.
 */
export async function top(
  config: CliConfig,
  options: { intervalMs: number; count: number | undefined },
  terminal: TopTerminal,
): Promise<number> {
  const hub = await connectToHub(config);
  const { stop, release } = stopOnSignals();
  const stopKeys = terminal.keys((key) => {
    // q, Q, Ctrl-C (raw mode delivers it as a key, not a signal).
    if (key === "q" || key === "Q" || key === "\u0003") stop.abort();
  });
  const live = terminal.rows !== undefined;
  if (live) terminal.write(HIDE_CURSOR);
  try {
    let before: HubStats | undefined;
    let channelsBefore: ChannelReadings | undefined;
    let readAt = 0;
    for (let frame = 0; options.count === undefined || frame < options.count; frame++) {
      if (stop.signal.aborted) break;
      const [now, channels] = await Promise.all([
        hub.stats().catch((error: unknown) => {
          throw figuresFailure(error, "hub.stats", config);
        }),
        // Pub/sub is shown when the hub lists channels (a hub of an older version may not).
        hub.channels().catch(() => undefined),
      ]);
      const at = performance.now();
      const seconds = before === undefined ? 0 : (at - readAt) / 1000;
      const rows = topRows(before, now, seconds);
      const pubsub = channels === undefined ? undefined : channelPanel(channels, channelsBefore, seconds);
      const text = renderTop(
        config.hub.text,
        now,
        rows,
        live ? Math.max(3, terminal.rows! - 6) : 40,
        pubsub?.panel,
      );
      terminal.write(live ? `${CLEAR}${text}\n` : `${text}\n\n`);
      before = now;
      channelsBefore = pubsub?.readings;
      readAt = at;
      if (options.count !== undefined && frame + 1 >= options.count) break;
      await pause(options.intervalMs, stop.signal);
    }
    return 0;
  } finally {
    if (live) terminal.write(SHOW_CURSOR);
    stopKeys();
    release();
    await hub.close();
  }
}

/** Waits `ms`, or less if `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

function positiveInteger(
  flag: string,
  text: string | undefined,
  fallback: number | undefined,
): number | undefined {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) {
    throw new CliError(`--${flag} takes a positive whole number, got ${JSON.stringify(text)}`, EXIT.usage);
  }
  return value;
}

/** `beamhub top`: its options and usage. */
export const topCommand: CommandSpec = {
  name: "top",
  operands: [],
  summary: "a live view of the hub: services by call rate, errors, p99; pub/sub channels",
  description:
    "Shows the hub's services busiest first: instances, calls per second, errors (failures and timeouts) " +
    "per second, calls in flight and the p99 latency of the last interval, with sessions by transport " +
    "and traffic on top; below, the pub/sub channels this client may subscribe to, busiest first: " +
    "subscribers, messages published per second, messages dropped for slow subscribers (lagged) per " +
    "second and in all, history kept. On a terminal it redraws every --interval until q or Ctrl-C; piped, it prints " +
    "one frame after another. Needs hub.stats access.",
  groups: [
    {
      title: "top options",
      inline: true,
      options: {
        interval: { type: "string", value: "MS", help: "time between frames (default 1000)" },
        count: { type: "string", value: "N", help: "stop after N frames (default: until q or Ctrl-C)" },
      },
    },
    HUB_OPTIONS,
    HUB_TLS_OPTIONS,
  ],
  run: async (input) => {
    const intervalMs = positiveInteger("interval", input.string("interval"), 1000)!;
    const count = positiveInteger("count", input.string("count"), undefined);
    return top(clientConfig(input), { intervalMs, count }, processTerminal());
  },
};
