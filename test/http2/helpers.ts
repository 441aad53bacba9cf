// Shared plumbing of the HTTPS transport tests: a hub behind listenHttps, certificates, raw
// HTTP/2 and WebSocket peers that speak frames by hand, and the curl binary.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect as http2Connect, type ClientHttp2Session, type ClientHttp2Stream } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type HttpsListener, Hub, listenHttps, type ListenHttpsOptions } from "../../index.js";
import { encodeFrame, FrameDecoder, FrameType, type Frame } from "../../wire/frame.js";
import { encodeHello, PROTOCOL_NAME, PROTOCOL_VERSION } from "../../wire/hello.js";
import { within } from "../compliance/suite.js";

export { within };

/** A hub in this process behind `listenHttps`, with a private temp dir for certificates. */
export interface HttpsFixture {
  hub: Hub;
  listener: HttpsListener;
  dir: string;
  close(): Promise<void>;
}

export async function startHub(options: ListenHttpsOptions = {}, hub = new Hub()): Promise<HttpsFixture> {
  const dir = await mkdtemp(join(tmpdir(), "beamhub-https-test-"));
  const listener = await listenHttps(hub, options);
  return {
    hub,
    listener,
    dir,
    close: async () => {
      await listener.close();
      await hub.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Opens a raw HTTP/2 connection to the listener (for tests that speak frames by hand). */
export function rawHttp2(listener: HttpsListener): ClientHttp2Session {
  const session = http2Connect(listener.url, { ca: listener.certificate });
  session.on("error", () => undefined);
  return session;
}

/** Collects the frames a raw session stream receives, until it ends. */
export function frameCollector(stream: ClientHttp2Stream): { frames: Frame[]; ended: Promise<void> } {
  const decoder = new FrameDecoder(1 << 24);
  const frames: Frame[] = [];
  stream.on("data", (chunk: Buffer) => frames.push(...decoder.push(chunk)));
  const ended = new Promise<void>((resolve) => {
    stream.once("close", resolve);
    stream.once("end", resolve);
  });
  return { frames, ended };
}

/** The `{code, message}` of the GOAWAY among `frames`, if any. */
export function goawayOf(frames: Frame[]): { code: string; message: string } | undefined {
  const frame = frames.find((candidate) => candidate.type === FrameType.GOAWAY);
  return frame === undefined ? undefined : (JSON.parse(new TextDecoder().decode(frame.payload)) as never);
}

/** Writes the listener's certificate to a file curl can read. */
export async function certificateFile(fixture: HttpsFixture): Promise<string> {
  const path = join(fixture.dir, "server.pem");
  await writeFile(path, fixture.listener.certificate);
  return path;
}

/** The curl binary's version line, or undefined when curl is missing or lacks HTTP/2. */
export async function curlVersion(): Promise<string | undefined> {
  try {
    const { stdout } = await run("curl", ["--version"]);
    return /HTTP2/.test(stdout) ? stdout.split("\n")[0] : undefined;
  } catch {
    return undefined;
  }
}

/** Runs curl and returns the body, status and HTTP version it reports. */
export async function curl(args: string[]): Promise<{ body: string; status: number; version: string }> {
  const marker = "\n--beamhub-curl--";
  const { stdout } = await run("curl", [
    "-sS",
    "--max-time",
    "10",
    "-w",
    `${marker}%{http_code} %{http_version}`,
    ...args,
  ]);
  const at = stdout.lastIndexOf(marker);
  const [status, version] = stdout.slice(at + marker.length).split(" ");
  return { body: stdout.slice(0, at), status: Number(status), version: version ?? "" };
}

function run(file: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return within(
    new Promise((resolve, reject) => {
      execFile(file, args, { encoding: "utf8" }, (error, stdout, stderr) =>
        error ? reject(Object.assign(error, { stderr })) : resolve({ stdout, stderr }),
      );
    }),
    15_000,
    `${file} ${args.join(" ")}`,
  );
}

/** A client HELLO (PROTOCOL.md, "Handshake") as a whole frame. */
export function clientHello(): Uint8Array {
  return encodeFrame(
    FrameType.HELLO,
    0,
    encodeHello({
      protocol: PROTOCOL_NAME,
      version: PROTOCOL_VERSION,
      codecs: ["cbor"],
      maxFrameSize: 1 << 24,
      streamWindow: 1 << 20,
      fds: false,
    }),
  );
}

/** Opens a raw session stream (`POST /beamhub/v1/session`) on `session`. */
export function rawSessionStream(session: ClientHttp2Session): ClientHttp2Stream {
  const stream = session.request(
    { ":method": "POST", ":path": "/beamhub/v1/session", "content-type": "application/beamhub" },
    { endStream: false },
  );
  stream.on("error", () => undefined);
  return stream;
}
