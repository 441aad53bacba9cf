// Runs examples/http2-service.ts as a real process with --once: it serves over HTTP/2 + TLS, a
// second process calls the service, curl calls it through the plain HTTP mapping, and it exits.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const example = join(repoRoot, "examples", "http2-service.ts");
let certDir: string;

beforeAll(async () => {
  certDir = await mkdtemp(join(tmpdir(), "beamhub-example-cert-"));
});

afterAll(async () => {
  await rm(certDir, { recursive: true, force: true });
});

function runExample(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", example, ...args], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the example did not exit within 45 s; output:\n${output}`));
    }, 45_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, output });
    });
  });
}

describe("examples/http2-service.ts", () => {
  it("serves over HTTP/2, answers a second process and curl, and exits with --once", async () => {
    const { code, output } = await runExample(["--port", "0", "--cert-dir", certDir, "--once"]);
    expect(code, output).toBe(0);
    expect(output).toMatch(/hub: serving "greet" on https:\/\/localhost:\d+/);
    expect(output).toMatch(/client: over http2: hello process \d+/);
    expect(output).toMatch(/try it yourself: curl --http2 --cacert .*cert\.pem .*\/beamhub\/v1\/call\/greet/);
    expect(output).toMatch(/curl: ("hello curl|not installed)/);
  }, 60_000);
});
