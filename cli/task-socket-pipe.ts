import { once } from "node:events";
import { Readable } from "node:stream";
import type { ByteStream } from "../index.js";

/**
 * Joins a socket's byte stream to this process's stdin and stdout, like `nc`: stdin goes to
 * the other application and its end (EOF) half-closes this side; what the other application
 * sends goes to stdout. Resolves once the other side finished sending and this side's input is
 * sent: piped input to its end; a terminal, which may never end, is read no further and this
 * side half-closes. Rejects when the stream was reset.
 */
export async function pipeSocketToStdio(
  stream: ByteStream,
  stdin: NodeJS.ReadableStream = process.stdin,
  stdout: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  const input = stdin as Readable;
  // preventAbort: giving up on a terminal's input must end this side, not reset the stream
  // (a reset would drop what is still on its way to the other application).
  const sending = (Readable.toWeb(input) as ReadableStream<Uint8Array>)
    .pipeTo(stream.writable, { preventAbort: true })
    .then(
      () => true,
      () => false, // a reset shows on the reading side, with its reason
    );
  try {
    for await (const chunk of stream.readable) {
      if (!stdout.write(chunk)) await once(stdout, "drain");
    }
  } finally {
    // The other side is done (or gone). Piped input ends by itself: all of it is sent. A terminal
    // may never end: stop reading it, and half-close this side.
    if ((input as { isTTY?: boolean }).isTTY !== true) await sending;
    else {
      input.destroy();
      if (!(await sending)) await stream.writable.close().catch(() => undefined);
    }
  }
}
