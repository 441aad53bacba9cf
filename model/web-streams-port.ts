/**
 * A {@link ByteStreamPort} over an end's web streams, for ends made without a port of their own
 * (a `ByteStream` built by hand from any readable and writable): splices then drive every end
 * the same way, only faster where the end offers a raw port.
 */
import type { ByteStreamPort, ByteStreamSink } from "./byte-stream-port.js";
import { StreamResetError } from "./errors.js";

/** Drives `reader` and `writer` (locked by the caller) as a port. */
export function webStreamsPort(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  writer: WritableStreamDefaultWriter<Uint8Array>,
): ByteStreamPort {
  let sink: ByteStreamSink | undefined;
  let paused = false;
  let wake: (() => void) | undefined;
  let waitingForRoom = false;
  let failed = false;
  const fail = (reason: unknown): void => {
    if (failed) return;
    failed = true;
    sink?.reset(
      reason instanceof StreamResetError ? reason : new StreamResetError("the stream failed", reason),
    );
  };
  const pump = async (to: ByteStreamSink): Promise<void> => {
    for (;;) {
      if (paused) await new Promise<void>((resolve) => (wake = resolve));
      const { done, value } = await reader.read();
      if (done) return to.end();
      to.data(value);
    }
  };
  return {
    start: (to) => {
      sink = to;
      pump(to).catch(fail);
      writer.closed.catch(fail);
    },
    pause: () => {
      paused = true;
    },
    resume: () => {
      paused = false;
      const resume = wake;
      wake = undefined;
      resume?.();
    },
    write: (chunk) => {
      writer.write(chunk).catch(fail);
      if ((writer.desiredSize ?? 1) > 0) return true;
      if (!waitingForRoom) {
        waitingForRoom = true;
        writer.ready.then(() => {
          waitingForRoom = false;
          sink?.drain();
        }, fail);
      }
      return false;
    },
    end: () => {
      writer.close().catch(fail);
    },
  };
}
