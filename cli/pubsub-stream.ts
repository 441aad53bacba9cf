import { once } from "node:events";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import type { Readable } from "node:stream";
import { isLagged, type HubClient, type Lagged, type PubSubMessage } from "../index.js";
import { CommandDeadline } from "./deadline.js";
import { CliError, EXIT } from "./errors.js";
import { toJson } from "./output.js";

/** Where `pub --stream` reads its bytes: a file (its name goes in the message) or stdin. */
export interface StreamSource {
  readonly input: Readable;
  /** The broadcast message's data: `{"name", "size"}` of a file, null for stdin. */
  readonly data: unknown;
}

/**
 * Opens `pub --stream`'s input before anything connects, so that a missing or unreadable file is
 * a usage error (exit 2), not a broadcast that fails half-way.
 */
export async function openStreamSource(path: string | undefined, stdin: Readable): Promise<StreamSource> {
  if (path === undefined || path === "-") return { input: stdin, data: null };
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error("not a regular file");
    size = info.size;
  } catch (error) {
    throw new CliError(`pub --stream: cannot read ${path}: ${(error as Error).message}`, EXIT.usage, {
      cause: error,
    });
  }
  return { input: createReadStream(path), data: { name: basename(path), size } };
}

/**
 * `beamhub pub --stream <channel> [file|-]`: one byte-stream broadcast of the file (or stdin)
 * to every subscriber of the channel at that moment. `--timeout` bounds the publication (the hub
 * handing out copies), not the copying: a long file takes as long as the slowest `wait`
 * subscriber needs (the hub cuts one that stays full for its publish timeout). Prints
 * `{"seq", "time", "bytes"}` once the hub has read every byte (a round trip after the end).
 */
export async function publishStream(
  hub: HubClient,
  channel: string,
  source: StreamSource,
  timeout: number,
  out: (text: string) => void,
): Promise<void> {
  const deadline = new CommandDeadline(timeout);
  let broadcast;
  try {
    broadcast = await deadline.race(
      hub.broadcast(channel, source.data),
      () =>
        new CliError(
          `broadcast to ${channel} failed: no answer within --timeout ${deadline.timeoutMs} ms`,
          EXIT.failed,
        ),
    );
  } catch (error) {
    source.input.destroy();
    if (error instanceof CliError) throw error;
    throw failed(`broadcast to ${channel} failed`, error);
  }
  const writer = broadcast.stream.writable.getWriter();
  let bytes = 0;
  try {
    for await (const chunk of source.input as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      await writer.write(chunk);
    }
    await writer.close();
    // One round trip more: the hub reads a session's frames in order, so its answer means it has
    // read every byte and the END before it. `hub.close()` alone delivers them too, on every
    // transport (it waits for the stream's last bytes held back by credit, then for the Unix
    // socket's queue, or for the hub to answer the close over HTTPS), but it never fails: the
    // answer adds what close cannot, a hub that confirmed the whole stream before this command
    // says so and exits 0 (a hub that died meanwhile is a failure, exit 1).
    const confirm = new CommandDeadline(timeout); // --timeout bounds the publication, not the copying
    await confirm.race(
      hub.channels(),
      () =>
        new CliError(
          `broadcast ${broadcast.seq} to ${channel}: the hub did not confirm the end within --timeout ${confirm.timeoutMs} ms`,
          EXIT.failed,
        ),
    );
  } catch (error) {
    source.input.destroy();
    broadcast.stream.reset(error);
    if (error instanceof CliError) throw error;
    throw failed(`broadcast ${broadcast.seq} to ${channel} failed after ${bytes} bytes`, error);
  }
  out(toJson({ seq: broadcast.seq, time: broadcast.time, bytes }, false));
}

/** What `sub --stream` does with the subscription's items. */
export interface StreamPrinterOptions {
  /** Written to stdout after each broadcast's bytes (none by default). */
  readonly delimiter: Uint8Array | undefined;
  /** Broadcasts to print before exiting (`--once` is 1); undefined: until Ctrl-C. */
  readonly count: number | undefined;
}

/**
 * `beamhub sub --stream <channel>`: writes each byte-stream broadcast's bytes to `stdout` as
 * they come (with backpressure: a slow pipe slows the copy, and with `--lag wait` the
 * publisher), one broadcast after another, `delimiter` after each. What is not a broadcast is
 * skipped; where each broadcast starts, and any gap the hub reports, goes to stderr (`log`).
 * Resolves true once `count` broadcasts are printed, false when the subscription ended first.
 */
export async function printBroadcasts(
  subscription: AsyncIterable<PubSubMessage | Lagged>,
  options: StreamPrinterOptions,
  stdout: NodeJS.WritableStream,
  log: (text: string) => void,
): Promise<boolean> {
  let printed = 0;
  for await (const item of subscription) {
    if (isLagged(item)) {
      log(
        item.seq === undefined
          ? `beamhub sub: lagged ${item.lagged} (messages dropped while this subscriber was behind)`
          : `beamhub sub: broadcast ${item.seq} lost ${item.bytes} bytes at offset ${item.at} (this subscriber read too slowly)`,
      );
      continue;
    }
    const stream = item.stream;
    if (stream === undefined) continue;
    log(`beamhub sub: broadcast ${item.seq} from ${item.from} ${toJson(item.data, false)}`);
    for await (const chunk of stream.readable) {
      if (!stdout.write(chunk)) await once(stdout, "drain");
    }
    // Read to its end: this side's direction is closed too, so the copy is released.
    await stream.writable.close().catch(() => undefined);
    if (options.delimiter !== undefined && !stdout.write(options.delimiter)) await once(stdout, "drain");
    if (options.count !== undefined && ++printed >= options.count) return true;
  }
  return false;
}

function failed(what: string, error: unknown): CliError {
  const failure = error as { code?: string; message?: string };
  return new CliError(
    `${what}: ${failure.code ?? ""} ${failure.message ?? String(error)}`.trim(),
    EXIT.failed,
    {
      cause: error,
    },
  );
}
