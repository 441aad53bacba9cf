// A throwaway nginx for tests and benches: installed when missing (scripts/install-nginx.sh),
// run in the foreground from a temporary directory, configured with the `http {}` part that
// transports/http2/README.md documents, so the documented configuration is the tested one.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const INSTALL = fileURLToPath(new URL("../../scripts/install-nginx.sh", import.meta.url));
const DOC = fileURLToPath(new URL("../../transports/http2/README.md", import.meta.url));

/** Installs nginx when missing: the binary's path, or the reason it cannot be had. */
export function installNginx(): Promise<{ path?: string; reason?: string }> {
  return new Promise((resolve) => {
    execFile("bash", [INSTALL], { encoding: "utf8", timeout: 300_000 }, (error, stdout, stderr) => {
      const path = stdout.trim().split("\n").at(-1);
      if (error || !path) resolve({ reason: (stderr.trim() || String(error)).split("\n").at(-1) });
      else resolve({ path });
    });
  });
}

/** The nginx configuration documented in transports/http2/README.md (its one ```nginx block). */
export async function documentedNginxConfig(): Promise<string> {
  const text = await readFile(DOC, "utf8");
  const blocks = [...text.matchAll(/```nginx\n([\s\S]*?)```/g)].map((match) => match[1]!);
  if (blocks.length !== 1) throw new Error(`${DOC} has ${blocks.length} nginx blocks, expected 1`);
  return blocks[0]!;
}

/** Where a documented configuration is put to work: ports and the proxy's certificate files. */
export interface NginxSite {
  /** The port nginx listens on (loopback). */
  port: number;
  /** The hub's https port. */
  upstreamPort: number;
  certFile: string;
  keyFile: string;
}

/**
 * The documented block with only its addresses and certificate paths replaced. Each replaced
 * line must occur exactly once: if the documentation changes them, this fails rather than
 * testing something else.
 */
export function placeConfig(config: string, site: NginxSite): string {
  const replacements: [string, string][] = [
    ["server 127.0.0.1:8443;", `server 127.0.0.1:${site.upstreamPort};`],
    ["listen 443 ssl http2;", `listen 127.0.0.1:${site.port} ssl http2;`],
    ["ssl_certificate /etc/nginx/hub.example.com.pem;", `ssl_certificate ${site.certFile};`],
    ["ssl_certificate_key /etc/nginx/hub.example.com.key;", `ssl_certificate_key ${site.keyFile};`],
  ];
  let placed = config;
  for (const [from, to] of replacements) {
    const count = placed.split(from).length - 1;
    if (count !== 1) throw new Error(`the nginx configuration has ${count} "${from}", expected 1`);
    placed = placed.replace(from, to);
  }
  return placed;
}

/** A whole nginx.conf around an `http {}` part: foreground, one worker, files under `dir`. */
export function nginxConf(dir: string, http: string): string {
  return `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 1024; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${http}
}
`;
}

/** A running nginx. */
export interface RunningNginx {
  process: ChildProcess;
  /** Its directory (nginx.conf, access.log, error.log). */
  dir: string;
  /** Stops it (SIGQUIT, then SIGKILL after 5 s). */
  stop(): Promise<void>;
}

function accepting(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const done = (open: boolean): void => {
      socket.destroy();
      resolve(open);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.setTimeout(500, () => done(false));
  });
}

/** Writes `conf` to `dir`/nginx.conf, starts nginx on it and waits (10 s) until `port` accepts. */
export async function startNginx(
  binary: string,
  dir: string,
  conf: string,
  port: number,
): Promise<RunningNginx> {
  const file = join(dir, "nginx.conf");
  await writeFile(file, conf);
  const stderr: Buffer[] = [];
  const child = spawn(binary, ["-p", dir, "-c", file, "-e", join(dir, "error.log")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  child.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk));
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exit = `nginx exited (${code ?? signal}): ${Buffer.concat(stderr).toString().trim()}`;
      resolve();
    }),
  );
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGQUIT");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 10_000;
  while (!(await accepting(port))) {
    if (exit !== undefined || Date.now() > deadline) {
      await stop();
      throw new Error(exit ?? `nginx did not listen on port ${port} within 10 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { process: child, dir, stop };
}
