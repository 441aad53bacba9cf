/**
 * The tunnel alone, A/B between source trees in one process: each tree's `openTunnel` pair over
 * an in-memory relay (bytes only: no codec, so trees do not meet), fed the way a session writes
 * a byte stream (writes of 8 frames, each a 13-byte header chunk and a 64 KiB payload chunk),
 * rounds interleaved and rotated, CPU time, medians of per-round ratios against the first tree.
 * It tells what the tunnel (records, AEAD, framing) costs per MiB of the path through a broker.
 *
 *   AB_TREES=/tmp/ab/base,. npx tsx bench/tunnel-ab.ts
 */
import { createPrivateKey } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { formatSpread, median, roundRatioSpread } from "./harness.js";

const trees = (process.env.AB_TREES ?? "").split(",").filter((tree) => tree !== "");
if (trees.length < 2) throw new Error("set AB_TREES to two or more tree directories, comma-separated");
const ROUNDS = Number(process.env.ROUNDS ?? 15);
const MIB = Number(process.env.MIB ?? 32);

interface Transport {
  write(chunks: Uint8Array[], fds: number[]): boolean;
  start(handlers: { data(chunk: Uint8Array): void; closed(error?: Error): void; drain?(): void }): void;
  abort?(): void;
}
interface Port {
  start(handlers: object): void;
  write(chunk: Uint8Array): boolean;
  end(): void;
}
interface TreeByteStream {
  openPort(): Port | undefined;
  reset(error?: unknown): void;
}

const work = await mkdtemp(join(tmpdir(), "bench-tunnel-ab-"));

/** A tunnel of `tree` between two hubs, through a relay that passes bytes on. */
async function tunnelOf(tree: string, index: number) {
  const { CertificateAuthority, TrustStore, ByteStream } = (await import(resolve(tree, "index.ts"))) as {
    CertificateAuthority: {
      init(
        dir: string,
      ): Promise<{ rootPem: string; issue(id: string): Promise<{ certificate: string; key: string }> }>;
    };
    TrustStore: new (root: string) => unknown;
    ByteStream: { pair(): [TreeByteStream, TreeByteStream] };
  };
  const { openTunnel } = (await import(resolve(tree, "federation/tunnel/secure-tunnel.ts"))) as {
    openTunnel(stream: TreeByteStream, options: object): Promise<{ transport: Transport }>;
  };
  const ca = await CertificateAuthority.init(join(work, `ca${index}`));
  const trust = new TrustStore(ca.rootPem);
  const identity = async (id: string) => {
    const issued = await ca.issue(id);
    return { id, chain: issued.certificate, key: createPrivateKey(issued.key) };
  };
  const [site1, site2] = [await identity("proxy1.broker"), await identity("proxy2.broker")];
  const [initiatorEnd, relayIn] = ByteStream.pair();
  const [relayOut, responderEnd] = ByteStream.pair();
  const inPort = relayIn.openPort()!;
  const outPort = relayOut.openPort()!;
  inPort.start({
    data: (chunk: Uint8Array) => outPort.write(chunk),
    end: () => outPort.end(),
    reset: () => undefined,
  });
  outPort.start({
    data: (chunk: Uint8Array) => inPort.write(chunk),
    end: () => inPort.end(),
    reset: () => undefined,
  });
  const [a, b] = await Promise.all([
    openTunnel(initiatorEnd, { role: "initiator", self: site1, trust, peer: site2.id }),
    openTunnel(responderEnd, { role: "responder", self: site2, trust }),
  ]);
  let received = 0;
  let wanted = 0;
  let arrived: () => void = () => undefined;
  b.transport.start({
    data: (chunk) => {
      received += chunk.byteLength;
      if (received >= wanted) arrived();
    },
    closed: () => undefined,
  });
  let drained: () => void = () => undefined;
  a.transport.start({ data: () => undefined, closed: () => undefined, drain: () => drained() });
  const header = Buffer.alloc(13, 1);
  const payload = Buffer.alloc(65_536, 7);
  const write = Array.from({ length: 8 }, () => [header, payload]).flat();
  const perWrite = 8 * (13 + 65_536);
  return {
    name: basename(resolve(tree)),
    /** CPU ms to move MIB MiB through. */
    async round(): Promise<number> {
      received = 0;
      wanted = Math.ceil((MIB * 1048576) / perWrite) * perWrite;
      const done = new Promise<void>((resolve) => (arrived = resolve));
      const before = process.cpuUsage();
      for (let sent = 0; sent < wanted; sent += perWrite) {
        if (!a.transport.write(write, [])) await new Promise<void>((resolve) => (drained = resolve));
      }
      await done;
      const used = process.cpuUsage(before);
      return (used.user + used.system) / 1000;
    },
    close: () => a.transport.abort?.(),
  };
}

const tunnels = [];
try {
  for (const [index, tree] of trees.entries()) tunnels.push(await tunnelOf(tree, index));
  for (const tunnel of tunnels) await tunnel.round();
  const cpu = tunnels.map(() => [] as number[]);
  for (let r = 0; r < ROUNDS; r++)
    for (let k = 0; k < tunnels.length; k++) {
      const which = (r + k) % tunnels.length;
      cpu[which]!.push(await tunnels[which]!.round());
    }
  console.log(
    `tunnel A/B: ${MIB} MiB through a relay in memory, ${ROUNDS} rounds, node ${process.version}, ` +
      `${new Date().toISOString()}, load ${loadavg()
        .map((load) => load.toFixed(1))
        .join(" ")}`,
  );
  for (const [index, tunnel] of tunnels.entries())
    console.log(
      `  ${tunnel.name.padEnd(12)} CPU ${(median(cpu[index]!) / MIB).toFixed(2)} ms/MiB; speed vs ${tunnels[0]!.name}: ` +
        formatSpread(roundRatioSpread(cpu[0]!, cpu[index]!)),
    );
} finally {
  for (const tunnel of tunnels) tunnel.close();
  await rm(work, { recursive: true, force: true });
}
