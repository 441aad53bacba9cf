// A server-sent event reader over a real `curl -N` process (the way a shell user follows a
// channel): events are parsed as EventSource parses them, and every wait is bounded.
import { spawn, type ChildProcess } from "node:child_process";
import { within } from "./helpers.js";

/** One parsed server-sent event (a comment is kept as `comment`). */
export interface SseEvent {
  readonly event?: string;
  readonly id?: string;
  readonly data?: string;
  readonly retry?: string;
  readonly comment?: string;
}

/** A running `curl -N` that reads an event stream. */
export interface CurlFollower {
  readonly process: ChildProcess;
  /** Every event read so far. */
  readonly events: SseEvent[];
  /** Resolves once `predicate` holds for the events read (rejects after `ms`, or when curl exits first). */
  until(predicate: (events: SseEvent[]) => boolean, what: string, ms?: number): Promise<SseEvent[]>;
  /** Resolves when curl exits, with its exit code (null when a signal ended it). */
  readonly exited: Promise<number | null>;
  /** Ends curl (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
}

/** Parses one block (the text between blank lines) as EventSource would. */
export function parseEvent(block: string): SseEvent {
  const event: Record<string, string> = {};
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) {
      event.comment = line.slice(1).trim();
      continue;
    }
    const at = line.indexOf(":");
    const field = at < 0 ? line : line.slice(0, at);
    const value = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
    event[field] = event[field] === undefined || field !== "data" ? value : `${event[field]}\n${value}`;
  }
  return event;
}

/** Starts `curl -sS -N <args>` and parses what it prints as server-sent events. */
export function followWithCurl(args: string[]): CurlFollower {
  const child = spawn("curl", ["-sS", "-N", "--max-time", "60", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: SseEvent[] = [];
  let pending = "";
  let stderr = "";
  const listeners = new Set<() => void>();
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => (stderr += chunk));
  child.stdout!.on("data", (chunk: string) => {
    pending += chunk;
    let end: number;
    while ((end = pending.indexOf("\n\n")) >= 0) {
      events.push(parseEvent(pending.slice(0, end)));
      pending = pending.slice(end + 2);
    }
    for (const listener of listeners) listener();
  });
  return {
    process: child,
    events,
    exited,
    until(predicate, what, ms = 15_000) {
      return within(
        new Promise<SseEvent[]>((resolve, reject) => {
          const check = (): void => {
            if (!predicate(events)) return;
            listeners.delete(check);
            resolve(events);
          };
          listeners.add(check);
          void exited.then(() => {
            if (!listeners.has(check)) return;
            listeners.delete(check);
            reject(
              new Error(
                `curl exited before ${what} (stderr: ${stderr.trim()}); read ${JSON.stringify(events)}`,
              ),
            );
          });
          check();
        }),
        ms,
        what,
      );
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await within(exited, 10_000, "curl to exit");
    },
  };
}

/** The messages (`event: message`) among `events`, their data parsed. */
export function messagesOf(events: readonly SseEvent[], type = "message"): { id: string; data: unknown }[] {
  return events
    .filter((event) => event.event === type)
    .map((event) => ({ id: event.id ?? "", data: JSON.parse(event.data ?? "null") as unknown }));
}
