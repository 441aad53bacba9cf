/**
 * A worker of the fd-passing example (`examples/fd-passing.ts` starts it; it is not meant to be
 * run by hand). It connects to the front's hub over a Unix socket, registers `worker.serve`, and
 * for each call takes the TCP connection it was handed and answers the client directly: the
 * front never sees those bytes.
 *
 *   node --import tsx examples/fd-passing-worker.ts <hub socket path>
 */
import type { Socket } from "node:net";
import { connectUnix, type FileDescriptor } from "beamhub";

/** A client gets this long to send its line before the worker hangs up. */
const READ_TIMEOUT_MS = 5_000;
/** The longest line (in characters) a client may send; longer input is cut here, so a client cannot hog memory. */
const MAX_LINE_LENGTH = 1_024;
/** On shutdown, clients already being served get this long to finish. */
const DRAIN_TIMEOUT_MS = 5_000;

const name = `worker ${process.pid}`;
const log = (line: string): void => console.log(`${name}: ${line}`);

/** The clients this worker is answering right now, so that shutdown can wait for them. */
const clients = new Set<Socket>();

/** Resolves with the first line the client sends (without its end of line). */
function readLine(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const finish = (line: string): void => {
      socket.off("data", onData).off("end", onEnd).off("timeout", onTimeout);
      socket.setTimeout(0);
      resolve(line.replace(/\r$/, ""));
    };
    const onData = (chunk: string): void => {
      text += chunk;
      const end = text.indexOf("\n");
      if (end >= 0) finish(text.slice(0, end));
      else if (text.length >= MAX_LINE_LENGTH) finish(text.slice(0, MAX_LINE_LENGTH));
    };
    // A client that half-closes without a newline still gets an answer to what it sent.
    const onEnd = (): void => finish(text);
    const onTimeout = (): void => reject(new Error(`no line within ${READ_TIMEOUT_MS} ms`));
    socket.setEncoding("utf8");
    socket.setTimeout(READ_TIMEOUT_MS);
    socket.on("data", onData).once("end", onEnd).once("timeout", onTimeout);
  });
}

/** Answers one client on the socket the front handed over, then hangs up. */
async function serveClient(socket: Socket): Promise<void> {
  clients.add(socket);
  socket.once("close", () => clients.delete(socket));
  // A client that resets the connection must not crash the worker.
  socket.on("error", (error) => log(`client error: ${error.message}`));
  try {
    const line = await readLine(socket);
    socket.end(`hello from ${name}: ${line}\n`);
  } catch (error) {
    log(`dropping a client: ${(error as Error).message}`);
    socket.destroy();
  }
}

/** Resolves once every client being served has been answered, or the drain timeout passed. */
async function drainClients(): Promise<void> {
  const answered = [...clients].map((socket) => new Promise((resolve) => socket.once("close", resolve)));
  // unref(): the timer alone must not keep a worker alive whose clients are all done.
  const timedOut = new Promise((resolve) => setTimeout(resolve, DRAIN_TIMEOUT_MS).unref());
  await Promise.race([Promise.all(answered), timedOut]);
  for (const socket of clients) socket.destroy();
}

async function main(): Promise<void> {
  const path = process.argv[2];
  if (path === undefined) {
    console.error("usage: fd-passing-worker.ts <hub socket path>");
    process.exit(2);
  }
  const hub = await connectUnix(path).catch((error: Error) => {
    // E.g. the front stopped before this worker got going: nothing to serve, nothing to clean up.
    console.error(`${name}: cannot reach the hub at ${path}: ${error.message}`);
    return process.exit(1);
  });

  await hub.register(
    "worker.serve",
    ({ client }: { client: FileDescriptor }) => {
      // Over the Unix transport the TCP connection arrives as a real fd, wrapped in a
      // net.Socket. take() makes it ours: the hub will no longer close it with the session.
      void serveClient(client.take() as Socket);
      // Reply at once (the front only waits for the hand-over), and answer the client meanwhile.
      return { pid: process.pid };
    },
    // The label lets the front, or anyone watching the hub, tell the instances apart.
    { labels: { pid: String(process.pid) } },
  );
  log("registered worker.serve");

  // The worker lives as long as its session with the hub: when the front closes the hub (or
  // dies, even by SIGKILL) the session ends and the worker goes too, so it is never orphaned.
  // Ctrl-C reaches the whole process group; the worker then stops the same way.
  const stopped = new Promise<string>((resolve) => {
    void hub.connection.closed.then(() => resolve("the hub closed the session"));
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
  const reason = await stopped;
  log(`stopping (${reason}), ${clients.size} client(s) still being served`);
  await hub.close(); // no new calls from here on
  await drainClients();
  log("stopped");
  // Exit explicitly: a worker that has finished must not linger on some forgotten handle.
  process.exit(0);
}

await main();
