// `beamhub serve`'s session limits: --max-frame-size, --max-streams, --max-channels,
// --max-pending-requests for both listeners, --max-sessions, --max-sessions-per-identity and
// --max-body-size for https. Read in-process (precedence, usage errors), then a real serve whose
// announced frame size a client obeys and whose body limit curl meets.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CliError } from "../../cli/errors.js";
import { resolveServeOptions, type ServeFlags } from "../../cli/serve-options.js";
import { connectUnix } from "../../hub/remote/unix.js";
import { connectHttps } from "../../index.js";
import { curl, curlVersion } from "../http2/helpers.js";
import { startCli, testConfig, type RunningCli } from "./helpers.js";

let dir: string;
const hasCurl = (await curlVersion()) !== undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-serve-limits-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function resolve(flags: ServeFlags, env: NodeJS.ProcessEnv = {}, file: Record<string, unknown> = {}) {
  return resolveServeOptions(flags, testConfig(dir, file), env);
}

describe("serve's session limits", () => {
  it("come from the flag, then BEAMHUB_*, then the config file", () => {
    expect(resolve({}).limits).toEqual({});
    const options = resolve(
      { "max-streams": "8", "max-sessions": "20" },
      { BEAMHUB_MAX_STREAMS: "9", BEAMHUB_MAX_CHANNELS: "100", BEAMHUB_MAX_BODY_SIZE: "4096" },
      { "max-pending-requests": 50, "max-frame-size": 65536, "max-sessions-per-identity": 3 },
    );
    expect(options.limits).toEqual({
      maxStreams: 8,
      maxChannels: 100,
      maxPendingRequests: 50,
      maxFrameSize: 65536,
    });
    expect(options.https).toMatchObject({ maxSessions: 20, maxSessionsPerIdentity: 3, maxBodySize: 4096 });
  });

  it("refuse what is not a positive integer, or what the session layer would refuse, naming the setting", () => {
    const usage = (flags: ServeFlags, env: NodeJS.ProcessEnv = {}): CliError => {
      try {
        resolve(flags, env);
      } catch (error) {
        expect(error).toBeInstanceOf(CliError);
        expect((error as CliError).exitCode).toBe(2);
        return error as CliError;
      }
      throw new Error("expected a usage error");
    };
    expect(usage({ "max-streams": "lots" }).message).toMatch(/--max-streams must be a positive integer/);
    expect(usage({}, { BEAMHUB_MAX_CHANNELS: "0" }).message).toMatch(
      /BEAMHUB_MAX_CHANNELS must be a positive/,
    );
    // A frame size the session layer cannot work with (smaller than its own frames need).
    expect(usage({ "max-frame-size": "16" }).message).toMatch(/--max-frame-size: .*maxFrameSize/);
  });

  it("configure only the https listener for the https-only caps, and say so when it is off", () => {
    expect(() => resolve({ "listen-https": "off", "max-sessions": "5" })).toThrow(
      "--max-sessions configures the https listener, which is off",
    );
  });
});

describe("a real serve with limits", () => {
  let server: RunningCli | undefined;
  let url: string;
  let ca: string;
  const socket = (): string => join(dir, "limited.sock");

  beforeAll(async () => {
    server = await startCli(
      [
        "serve",
        "--socket",
        socket(),
        "--listen-https",
        "127.0.0.1:0",
        "--cert-dir",
        join(dir, "cert"),
        "--max-frame-size",
        "65536",
        "--max-body-size",
        "1024",
      ],
      /press Ctrl-C/,
    );
    url = server.stderr().match(/serving on (https:\/\/127\.0\.0\.1:\d+)/)![1]!;
    ca = await readFile(join(dir, "cert", "cert.pem"), "utf8");
  }, 30_000);

  afterAll(async () => {
    await server?.stop();
  });

  it("announces its frame size: a client's larger message fails at the client, typed, and the session goes on", async () => {
    for (const remote of [await connectUnix(socket()), await connectHttps(url, { ca })]) {
      try {
        expect(remote.connection.peerHello.maxFrameSize).toBe(65536);
        await expect(remote.call("hub.info", "x".repeat(100_000))).rejects.toMatchObject({
          code: "EINVALID_MESSAGE",
          message: expect.stringMatching(/exceeds the peer's frame size limit of 65536/) as unknown,
        });
        expect(await remote.call("hub.info")).toMatchObject({ pid: server!.child.pid });
      } finally {
        await remote.close();
      }
    }
  });

  it.skipIf(!hasCurl)("refuses a plain body over --max-body-size with 413", async () => {
    const post = (body: string) =>
      curl([
        "--http2",
        "--cacert",
        join(dir, "cert", "cert.pem"),
        "-H",
        "content-type: application/json",
        "-d",
        body,
        `${url}/beamhub/v1/call/hub.info`,
      ]);
    expect((await post(JSON.stringify("x".repeat(2000)))).status).toBe(413);
    expect((await post("null")).status).toBe(200);
  });
});
