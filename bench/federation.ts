/**
 * Federation: a call from site 1 through the broker to site 2 (an end-to-end tunnel in an HTTP/2
 * session to the broker, relayed to the other site's session) against the same call made
 * directly from one hub to the other over HTTPS, at 1 and 100 in flight, and 16 MiB of byte
 * stream each way; then the cost of the cryptography per message: a tunnel record (ChaCha20-
 * Poly1305, both ends) and a sealed body (seal + open: X25519, two AEADs, Ed25519) against
 * copying the same bytes. Same process, interleaved rounds, medians of per-round ratios.
 *
 *   npx tsx bench/federation.ts
 *
 * Everything runs in this one process, so the stream ratio is mostly a ratio of CPU per byte:
 * through the broker a byte crosses two TLS sessions, the tunnel's AEAD and three wire framings
 * (site → broker, broker → site, and the session inside the tunnel) against one TLS session and
 * one framing direct. bench/federation-ab.ts compares two source trees on that path.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { serveBroker } from "../federation/broker.js";
import { CertificateAuthority } from "../federation/pki/authority.js";
import { ReplayGuard } from "../federation/seal/replay-guard.js";
import { open, seal } from "../federation/seal/seal.js";
import { createSealingKey, verifySealingKey } from "../federation/seal/sealing-key.js";
import { joinFederation } from "../federation/site.js";
import { RecordCipher } from "../federation/tunnel/record-cipher.js";
import { ByteStream, Hub, connectHttps, listenHttps, type HubClient } from "../index.js";
import { median, pipelined, roundRatio } from "./harness.js";

const ROUNDS = Number(process.env.ROUNDS ?? 5);

const dir = await mkdtemp(join(tmpdir(), "bench-federation-"));
const ca = await CertificateAuthority.init(join(dir, "ca"));
const brokerCredentials = await ca.issue("broker");
const site1Credentials = await ca.issue("proxy1.broker");
const site2Credentials = await ca.issue("proxy2.broker");

const brokerHub = new Hub();
const brokerListener = await listenHttps(brokerHub, {
  host: "127.0.0.1",
  port: 0,
  cert: brokerCredentials.certificate,
  key: brokerCredentials.key,
  ca: ca.rootPem,
});
await serveBroker(brokerHub);
const hub1 = new Hub();
const hub2 = new Hub();
const joinAs = (hub: Hub, id: string, credentials: typeof site1Credentials) =>
  joinFederation(hub, {
    broker: brokerListener.url,
    id,
    cert: credentials.certificate,
    key: credentials.key,
    root: ca.rootPem,
  });
const sites = [
  await joinAs(hub1, "proxy1.broker", site1Credentials),
  await joinAs(hub2, "proxy2.broker", site2Credentials),
];

const echo = (data: unknown) => data;
const drain = async (data: { stream: ByteStream }) => {
  let bytes = 0;
  for await (const chunk of data.stream.readable) bytes += chunk.byteLength;
  return bytes;
};
await hub2.register("echo", echo);
await hub2.register("drain", drain);
await hub1.call("echo@proxy2.broker", 0, { waitForService: 10_000 });

// The direct path: hub 2 listening on HTTPS, a client of it in this process.
const direct2 = await listenHttps(hub2, { host: "127.0.0.1", port: 0 });
const direct: HubClient = await connectHttps(direct2.url, { ca: direct2.certificate });

const payload = { user: "ada", items: [1, 2, 3], note: "x".repeat(100) };

async function callRates(inFlight: number, count: number) {
  const federated: number[] = [];
  const straight: number[] = [];
  const run = async (client: HubClient, name: string) => {
    const started = performance.now();
    await pipelined(count, inFlight, () => client.call(name, payload));
    return count / ((performance.now() - started) / 1000);
  };
  await run(hub1, "echo@proxy2.broker");
  await run(direct, "echo");
  for (let round = 0; round < ROUNDS; round++) {
    federated.push(await run(hub1, "echo@proxy2.broker"));
    straight.push(await run(direct, "echo"));
  }
  return { federated: median(federated), direct: median(straight), ratio: roundRatio(federated, straight) };
}

const CHUNK = Buffer.alloc(64 * 1024, 7);
async function streamRate(client: HubClient, name: string, bytes: number): Promise<number> {
  const [mine, theirs] = ByteStream.pair();
  const started = performance.now();
  const received = client.call<number>(name, { stream: theirs }, { timeout: 120_000 });
  const writer = mine.writable.getWriter();
  for (let sent = 0; sent < bytes; sent += CHUNK.length) await writer.write(CHUNK);
  await writer.close();
  const total = await received;
  if (total !== bytes) throw new Error(`sent ${bytes} bytes, ${total} arrived`);
  return bytes / 1048576 / ((performance.now() - started) / 1000);
}

async function streamRates() {
  const bytes = 16 * 1048576;
  const federated: number[] = [];
  const straight: number[] = [];
  await streamRate(hub1, "drain@proxy2.broker", bytes);
  await streamRate(direct, "drain", bytes);
  for (let round = 0; round < ROUNDS; round++) {
    federated.push(await streamRate(hub1, "drain@proxy2.broker", bytes));
    straight.push(await streamRate(direct, "drain", bytes));
  }
  return { federated: median(federated), direct: median(straight), ratio: roundRatio(federated, straight) };
}

/** Microseconds per operation of `operation`, the median of `ROUNDS` rounds of `count`. */
function microseconds(count: number, operation: () => void): number {
  const rounds: number[] = [];
  for (let round = 0; round <= ROUNDS; round++) {
    const started = performance.now();
    for (let index = 0; index < count; index++) operation();
    if (round > 0) rounds.push(((performance.now() - started) * 1000) / count);
  }
  return median(rounds);
}

function cryptoCosts() {
  const sizes = [1024, 64 * 1024];
  const key = randomBytes(32);
  const lines: string[] = [];
  for (const size of sizes) {
    const body = randomBytes(size);
    const copy = microseconds(2000, () => Buffer.from(body));
    let sender = new RecordCipher(key);
    let receiver = new RecordCipher(key);
    const record = microseconds(2000, () => {
      receiver.open(sender.seal(body));
    });
    sender = new RecordCipher(key);
    receiver = new RecordCipher(key);
    const identity1 = generateKeyPairSync("ed25519");
    const identity2 = generateKeyPairSync("ed25519");
    const sealing2 = createSealingKey("proxy2.broker", identity2.privateKey);
    const recipientKey = verifySealingKey(sealing2.record, identity2.publicKey);
    const guard = new ReplayGuard({ capacity: 10_000_000 });
    const sealed = microseconds(500, () => {
      const message = seal(body, {
        from: "proxy1.broker",
        signingKey: identity1.privateKey,
        recipients: [{ hub: "proxy2.broker", key: recipientKey }],
      });
      open(message, {
        hub: "proxy2.broker",
        privateKey: sealing2.privateKey,
        senderKey: identity1.publicKey,
        replay: guard,
      });
    });
    lines.push(
      `  ${String(size).padStart(6)} B: copy ${copy.toFixed(2)} µs; tunnel record seal+open ${record.toFixed(2)} µs; ` +
        `sealed body seal+open ${sealed.toFixed(1)} µs`,
    );
  }
  return lines.join("\n");
}

/** `ONLY=stream`: the byte stream part alone (to profile it: node --cpu-prof --import tsx ...). */
const only = process.env.ONLY;
try {
  console.log(
    `federation bench, ${ROUNDS} rounds, node ${process.version}, ${new Date().toISOString()}, load ${loadavg()
      .map((load) => load.toFixed(1))
      .join(" ")}`,
  );
  const callCases =
    only === "stream"
      ? []
      : ([
          [1, 2_000],
          [100, 20_000],
        ] as const);
  for (const [inFlight, count] of callCases) {
    const rates = await callRates(inFlight, count);
    console.log(
      `calls, ${inFlight} in flight: site → broker → site ${Math.round(rates.federated)}/s; hub → hub direct ${Math.round(rates.direct)}/s; ratio ${rates.ratio.toFixed(2)}×`,
    );
  }
  const streams = await streamRates();
  console.log(
    `byte stream, 16 MiB: site → broker → site ${streams.federated.toFixed(0)} MiB/s; direct ${streams.direct.toFixed(0)} MiB/s; ratio ${streams.ratio.toFixed(2)}×`,
  );
  if (only !== "stream") console.log(`cryptography per message (median µs):\n${cryptoCosts()}`);
} finally {
  await Promise.allSettled(sites.map((site) => site.close()));
  await (direct as { close(): Promise<void> }).close();
  await direct2.close();
  await brokerListener.close();
  await Promise.allSettled([hub1.close(), hub2.close(), brokerHub.close()]);
  await rm(dir, { recursive: true, force: true });
}
