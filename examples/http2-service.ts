/**
 * A service over HTTP/2 + TLS, called from a second process and from curl.
 *
 *   npx tsx examples/http2-service.ts [--port 8443] [--cert-dir .beamhub/dev-cert] [--once]
 *
 * The hub registers `greet` and listens on https://localhost:<port> with a development
 * certificate kept in `--cert-dir` (clients pin `cert.pem` from there). It then starts a second
 * process (this file with `--client`) that connects over HTTP/2 and calls `greet`, prints the
 * curl command for the plain HTTP mapping and runs it when curl is installed. Without `--once`
 * it keeps serving until Ctrl-C; with `--once` it stops after the demonstration (the test uses
 * it). `--port 0` picks a free port.
 *
 *   npx tsx examples/http2-service.ts --client https://localhost:8443 --ca .beamhub/dev-cert/cert.pem
 *
 * is the second process on its own: run it (from another machine, with the host's name) while
 * the hub serves.
 */
import { execFile, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { connectHttps, Hub, listenHttps, type CallContext } from "beamhub";

/** The second process and curl must finish within this time. */
const STEP_TIMEOUT_MS = 20_000;

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8443" },
    "cert-dir": { type: "string", default: ".beamhub/dev-cert" },
    once: { type: "boolean", default: false },
    client: { type: "string" },
    ca: { type: "string" },
  },
});

if (values.client !== undefined) await runClient(values.client, values.ca);
else await serve();

/** The second process: connects over HTTP/2 (pinning the hub's certificate) and calls greet. */
async function runClient(url: string, caFile: string | undefined): Promise<void> {
  const ca = caFile === undefined ? undefined : await readFile(caFile);
  const remote = await connectHttps(url, { ca });
  try {
    const reply = await remote.call<string>("greet", { name: `process ${process.pid}` });
    console.log(`client: over ${remote.transport}: ${reply}`);
  } finally {
    await remote.close();
  }
}

async function serve(): Promise<void> {
  const hub = new Hub();
  await hub.register("greet", (data: { name?: string } | null, context: CallContext) => {
    const name = typeof data?.name === "string" ? data.name : "stranger";
    return `hello ${name} (session ${context.caller.sessionId})`;
  });
  const certDir = values["cert-dir"];
  const listener = await listenHttps(hub, { host: "localhost", port: Number(values.port), certDir });
  const caFile = join(certDir, "cert.pem");
  console.log(`hub: serving "greet" on ${listener.url} (certificate: ${caFile})`);

  let failed = false;
  const stop = async (): Promise<void> => {
    await listener.close();
    await hub.close();
  };
  process.once("SIGINT", () => void stop());
  process.once("SIGTERM", () => void stop());

  try {
    // 1. A second process calls the service over HTTP/2.
    const script = fileURLToPath(import.meta.url);
    const code = await run(
      process.execPath,
      [...process.execArgv, script, "--client", listener.url, "--ca", caFile],
      (line) => console.log(line),
    );
    if (code !== 0) throw new Error(`the client process exited with ${code}`);

    // 2. curl, through the plain HTTP mapping (POST a JSON body to /beamhub/v1/call/<name>).
    // The mapping takes only `content-type: application/json` (415 otherwise; see the README).
    const curlArgs = [
      "--http2",
      "--cacert",
      caFile,
      "-sS",
      "-H",
      "content-type: application/json",
      "-d",
      '{"name":"curl"}',
    ];
    const callUrl = `${listener.url}/beamhub/v1/call/greet`;
    console.log(
      `hub: try it yourself: curl ${curlArgs
        .join(" ")
        .replace("content-type: application/json", "'content-type: application/json'")
        .replace('{"name":"curl"}', `'{"name":"curl"}'`)} ${callUrl}`,
    );
    const curl = await new Promise<{ stdout: string } | undefined>((resolve, reject) =>
      execFile("curl", [...curlArgs, callUrl], { timeout: STEP_TIMEOUT_MS }, (error, stdout) => {
        if ((error as NodeJS.ErrnoException | null)?.code === "ENOENT") resolve(undefined);
        else if (error) reject(error);
        else resolve({ stdout });
      }),
    );
    console.log(curl === undefined ? "curl: not installed, skipped" : `curl: ${curl.stdout.trim()}`);
  } catch (error) {
    failed = true;
    console.error(`hub: ${(error as Error).message}`);
  }

  if (values.once || failed) {
    await stop();
    process.exitCode = failed ? 1 : 0;
  } else {
    console.log("hub: serving until Ctrl-C");
  }
}

/** Runs a process, passing its output lines on; resolves with its exit code. */
function run(file: string, args: string[], onLine: (line: string) => void): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["ignore", "pipe", "inherit"] });
    const timer = setTimeout(() => child.kill("SIGKILL"), STEP_TIMEOUT_MS);
    let pending = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) onLine(line);
    });
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (pending !== "") onLine(pending);
      resolve(code);
    });
  });
}
