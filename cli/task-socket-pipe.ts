import { once } from "node:events";
import { Readable } from "node:stream";
import type { ByteStream } from "../index.js";

/**
 * Joins a socket's byte stream to this process's stdin and stdout, like `nc`: stdin goes to
 * the other application and its end (EOF) half-closes this side; what the other application
 * sends goes to stdout. Resolves once the other side finished sending (then stdin is no longer
 * read: the conversation is over); rejects when the stream was reset.
 */
export async function pipeSocketToStdio(
  stream: ByteStream,
  stdin: NodeJS.ReadableStream = process.stdin,
  stdout: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  const input = stdin as Readable;
  const sending = (Readable.toWeb(input) as ReadableStream<Uint8Array>)
    .pipeTo(stream.writable)
    .catch(() => undefined); // a reset shows on the reading side, with its reason
  try {
    for await (const chunk of stream.readable) {
      if (!stdout.write(chunk)) await once(stdout, "drain");
    }
  } finally {
    // The other side is done (or gone): stop reading stdin, which may never end by itself.
    input.destroy();
    await sending;
  }
}
