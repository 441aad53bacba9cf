import { connect as netConnect, isIP, type Socket } from "node:net";
import { BeamhubError } from "../../base/error.js";

/**
 * The forward HTTP proxy could not open a tunnel to the hub: unreachable, refused the CONNECT
 * (`status` is its HTTP status: 407 for missing or wrong credentials, 403 for a destination it
 * does not allow), or said something that is not HTTP (`EPROXY`).
 */
export class ProxyError extends BeamhubError {
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super("EPROXY", message, options);
  }
}

/** The longest proxy answer head read before giving up on it. */
const MAX_HEAD = 16 * 1024;

/**
 * The proxy to reach `url` through: `option` when given (`false`: none), else `HTTPS_PROXY`
 * (or `https_proxy`, then `ALL_PROXY`/`all_proxy`) from `env`, unless `NO_PROXY`/`no_proxy`
 * lists the host (curl's rules: comma-separated names that match the host or its parent
 * domains, optional `:port`, `*` for all). Only `http://` proxies (CONNECT over plain TCP).
 */
export function proxyFor(
  url: URL,
  option: string | false | undefined,
  env: NodeJS.ProcessEnv = process.env,
): URL | undefined {
  if (option === false) return undefined;
  const configured =
    option ?? env.HTTPS_PROXY ?? env.https_proxy ?? env.ALL_PROXY ?? env.all_proxy ?? undefined;
  if (configured === undefined || configured === "") return undefined;
  if (option === undefined && bypasses(url, env.NO_PROXY ?? env.no_proxy ?? "")) return undefined;
  let proxy: URL;
  try {
    proxy = new URL(configured.includes("://") ? configured : `http://${configured}`);
  } catch (error) {
    throw new ProxyError(`the proxy ${JSON.stringify(configured)} is not a URL`, undefined, { cause: error });
  }
  if (proxy.protocol !== "http:")
    throw new ProxyError(
      `only http:// forward proxies are supported (CONNECT over TCP), got ${proxy.protocol}//`,
    );
  return proxy;
}

function bypasses(url: URL, noProxy: string): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = url.port || "443";
  for (const raw of noProxy.split(",")) {
    const entry = raw.trim().toLowerCase();
    if (entry === "") continue;
    if (entry === "*") return true;
    const [name, entryPort] = splitHostPort(entry);
    if (entryPort !== undefined && entryPort !== port) continue;
    const bare = name.replace(/^\*?\./, "");
    if (host === bare || (isIP(host) === 0 && host.endsWith(`.${bare}`))) return true;
  }
  return false;
}

function splitHostPort(entry: string): [string, string | undefined] {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) return [bracketed[1]!, bracketed[2]];
  const colon = entry.lastIndexOf(":");
  if (colon > 0 && entry.indexOf(":") === colon && /^\d+$/.test(entry.slice(colon + 1)))
    return [entry.slice(0, colon), entry.slice(colon + 1)];
  return [entry, undefined];
}

/**
 * A TCP connection to `host:port` through the HTTP proxy `proxy` (`CONNECT`, with Basic
 * credentials when the proxy URL carries them), within `timeout` ms. TLS to the hub then runs
 * inside it, so the proxy sees only where the connection goes.
 */
export function connectThroughProxy(
  proxy: URL,
  host: string,
  port: number,
  timeout: number,
): Promise<Socket> {
  const authority = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  const where = `${proxy.hostname}:${proxy.port || 80}`;
  return new Promise((resolve, reject) => {
    const socket = netConnect({
      host: proxy.hostname.replace(/^\[|\]$/g, ""),
      port: Number(proxy.port || 80),
    });
    let head = Buffer.alloc(0);
    const timer = setTimeout(
      () =>
        fail(new ProxyError(`the proxy ${where} did not open a tunnel to ${authority} within ${timeout} ms`)),
      timeout,
    );
    const fail = (error: ProxyError): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.once("error", (error) =>
      fail(new ProxyError(`cannot reach the proxy ${where}: ${error.message}`, undefined, { cause: error })),
    );
    socket.once("close", () =>
      fail(new ProxyError(`the proxy ${where} closed the connection before answering`)),
    );
    socket.once("connect", () => {
      const credentials =
        proxy.username === ""
          ? ""
          : `Proxy-Authorization: Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString("base64")}\r\n`;
      socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${credentials}\r\n`);
    });
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (head.length > MAX_HEAD)
          fail(new ProxyError(`the proxy ${where} sent an answer head over ${MAX_HEAD} bytes`));
        return;
      }
      socket.off("data", onData);
      socket.pause(); // TLS takes over reading; nothing may flow away before it does
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head.subarray(0, end).toString("latin1"));
      if (status === null) return fail(new ProxyError(`the proxy ${where} did not answer CONNECT with HTTP`));
      const code = Number(status[1]);
      if (code !== 200) {
        const hint = code === 407 ? " (proxy credentials missing or wrong: put them in the proxy URL)" : "";
        return fail(
          new ProxyError(`the proxy ${where} refused CONNECT ${authority}: HTTP ${code}${hint}`, code),
        );
      }
      clearTimeout(timer);
      socket.removeAllListeners("close");
      socket.removeAllListeners("error");
      // Bytes after the head already belong to the tunnel (the hub's first TLS bytes).
      const rest = head.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      resolve(socket);
    };
    socket.on("data", onData);
  });
}

/**
 * The TCP connection TLS to `url` runs over when a proxy applies (see `proxyFor`), else
 * undefined (TLS then dials the hub itself).
 */
export async function proxiedSocket(
  url: URL,
  option: string | false | undefined,
  timeout: number,
): Promise<Socket | undefined> {
  const proxy = proxyFor(url, option);
  if (proxy === undefined) return undefined;
  return connectThroughProxy(proxy, url.hostname.replace(/^\[|\]$/g, ""), Number(url.port || 443), timeout);
}
