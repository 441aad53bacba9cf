// The raw mechanism under the gateway's relays, for bench/gateway.ts: the same two-process shape
// (a local process that accepts the client, another that connects to the database) joined by a
// plain Unix socket or a plain TLS connection per client, with Node `net`/`tls` piping and no
// framing, multiplexing or hub. What the relay adds on top of it is the relay's own cost.
//
//   child:  npx tsx bench/naive-relay.ts far unix|tls DIR tcp://HOST:PORT
//           listens (DIR/naive.sock, or TLS on a free loopback port with DIR/cert), prints
//           "ready <path or port>", and pipes each connection to HOST:PORT until stdin closes.
//   parent: startNaiveRelay(...) — the near side: a TCP port piping to the child.
import { readFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { connect as tlsConnect, createServer as createTlsServer } from "node:tls";
import { fileURLToPath } from "node:url";
import { spawnPeer } from "../test/gateway/postgres.js";

/** Pipes two sockets both ways; either failing destroys the other. */
function join2(a: Socket, b: Socket): void {
  a.setNoDelay?.(true);
  b.setNoDelay?.(true);
  a.pipe(b).pipe(a);
  a.on("error", () => b.destroy());
  b.on("error", () => a.destroy());
}

async function far(kind: string, dir: string, target: string): Promise<void> {
  const [host, port] = target.slice("tcp://".length).split(":");
  const onClient = (client: Socket): void => join2(client, connect(Number(port), host));
  let server: Server;
  if (kind === "unix") {
    const path = join(dir, "naive.sock");
    server = createServer(onClient);
    await new Promise<void>((resolve) => server.listen(path, resolve));
    console.log(`ready ${path}`);
  } else {
    const cert = readFileSync(join(dir, "cert", "cert.pem"));
    const key = readFileSync(join(dir, "cert", "key.pem"));
    server = createTlsServer({ cert, key }, onClient);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    console.log(`ready ${(server.address() as { port: number }).port}`);
  }
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
}

/**
 * Starts the far side as a child process and the near side here; resolves with the near side's
 * TCP port and a stop function. `dir` must hold `cert/cert.pem` and `cert/key.pem` for TLS.
 */
export async function startNaiveRelay(
  kind: "unix" | "tls",
  dir: string,
  target: string,
): Promise<{ port: number; stop(): void }> {
  const { child, firstLine } = await spawnPeer(fileURLToPath(import.meta.url), ["far", kind, dir, target]);
  const address = firstLine.split(" ")[1]!;
  const ca = kind === "tls" ? readFileSync(join(dir, "cert", "cert.pem")) : undefined;
  const near = createServer((client) => {
    const hop =
      kind === "unix"
        ? connect(address)
        : tlsConnect({ host: "127.0.0.1", port: Number(address), ca, servername: "localhost" });
    join2(client, hop);
  });
  await new Promise<void>((resolve) => near.listen(0, "127.0.0.1", resolve));
  return {
    port: (near.address() as { port: number }).port,
    stop: () => {
      near.close();
      child.stdin?.end();
    },
  };
}

if (process.argv[2] === "far") await far(process.argv[3]!, process.argv[4]!, process.argv[5]!);
