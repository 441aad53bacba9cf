// Every TypeScript snippet in the README is a complete program: this runs each one as a user
// would (tsx, importing "beamhub") and checks what it prints.
import { execFile } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { natsUnavailableReason, startNatsServer, type SingleNatsServer } from "./helpers/nats-cluster.js";
import { readmeSnippets } from "./helpers/readme-snippets.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");
const dir = join(root, ".readme-snippets");

/** What each snippet must print, in README order. */
const expected: string[][] = [
  ["hello world"],
  ["RangeError ENEGATIVE negative", "true\ntrue", "here"],
  ["1", "db.users eu", "added db.users", "added db.users"],
  ["{ done: { task: 'resize' } }", "{ tick: 0 }", "{ tick: 2 }"],
  ["QUIET PLEASE"],
  ["no web streams"],
  ["served by the worker"],
  ["{ over: 'unix' }"],
  ["http2 over TLS", "websocket over a WebSocket"],
  ["registered again"],
  ["42"],
  ["EFORBIDDEN", "admin.reset took", "done"],
  ["app2.proxy1.broker: succeeded 42"],
  ['{"file":"report.csv"} "a,b\\n1,2\\n"'],
  ["hello Ada, proxy1.broker"],
  ["sunny in Lisbon", "{ 'beamhub/hub': 'west' }"],
  ["run for alice", "EFORBIDDEN"],
  ["app2.proxy1.broker: succeeded 42"],
  ["1 alice: hello, anyone?", "2 alice: welcome, bob"],
  ["true local { name: 'app.log' } \"line 1\\nline 2\\n\""],
  ["hello from the hub"],
  ["1 1 local", "true"],
  ["20"],
  ["/beamhub/ui"],
  [
    "cbor application/cbor, msgpack",
    '{"user":"ada","reply":{"$channel":5}}',
    "Ref { kind: 'channel', id: 5 }",
    "{ name: 'ada', times: 2 }",
  ],
  [
    "000;4:from,6:3:ada,,5:hello,8:5:world,,",
    "[ '0 started', '30 stopped' ]",
    "2 { leader: [ 'node-1' ], members: [ 'node-1', 'node-2' ] }",
  ],
];

const snippets = readmeSnippets();

/** A NATS server with JetStream for the cluster snippet (started when a snippet needs it). */
let nats: SingleNatsServer | undefined;

describe("README snippets", () => {
  afterAll(async () => {
    await nats?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("has the snippets this test knows about", () => {
    expect(snippets.length).toBe(expected.length);
  });

  snippets.forEach((code, index) => {
    it(`snippet ${index + 1} runs and prints what it says`, { timeout: 30_000 }, async () => {
      await mkdir(dir, { recursive: true });
      const file = join(dir, `snippet-${index + 1}.ts`);
      await writeFile(file, code);
      // The snippets make temporary directories as a user's program would; here they go under
      // `dir`, which goes when the test is done.
      const tmp = join(dir, "tmp");
      await mkdir(tmp, { recursive: true });
      const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp };
      if (code.includes("NATS_URL")) {
        const unavailable = await natsUnavailableReason();
        if (unavailable !== undefined) {
          console.warn(`README snippet ${index + 1} is not run: ${unavailable}`);
          return;
        }
        nats ??= await startNatsServer();
        env.NATS_URL = nats.url;
      }
      const { stdout } = await run(process.execPath, ["--import", "tsx", file], {
        cwd: root,
        timeout: 25_000,
        env,
      });
      for (const text of expected[index] ?? []) expect(stdout).toContain(text);
    });
  });
});
