// Reading the dashboard's event stream from Node, as a browser would: HTTP/1.1 over TLS.
import { request as httpsRequest, type RequestOptions } from "node:https";
import type { IncomingMessage } from "node:http";
import { within } from "../compliance/suite.js";
import type { DashboardSnapshot } from "../../hub/dashboard/dashboard-snapshot.js";

/** An answer read whole (status, headers, body). */
export interface Answer {
  status: number;
  headers: IncomingMessage["headers"];
  body: string;
}

/** One request to the listener at `base`, read to the end. */
export function get(base: string, path: string, ca: string, options: RequestOptions = {}): Promise<Answer> {
  return within(
    new Promise<Answer>((resolve, reject) => {
      const request = httpsRequest(new URL(path, base), { ca, ...options }, (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("end", () => resolve({ status: response.statusCode!, headers: response.headers, body }));
      });
      request.once("error", reject);
      request.end();
    }),
    10_000,
    `GET ${path}`,
  );
}

/** An open event stream: the snapshots received so far, and a way to wait for more. */
export interface SnapshotStream {
  status: number;
  headers: IncomingMessage["headers"];
  snapshots: DashboardSnapshot[];
  /** Resolves once `count` snapshots arrived in all. */
  waitFor(count: number, ms?: number): Promise<DashboardSnapshot>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

export function openEvents(
  base: string,
  ca: string,
  path = "/beamhub/ui/events",
  headers = {},
): Promise<SnapshotStream> {
  return within(
    new Promise<SnapshotStream>((resolve, reject) => {
      const request = httpsRequest(new URL(path, base), { ca, headers, agent: false }, (response) => {
        const snapshots: DashboardSnapshot[] = [];
        const waiters: (() => void)[] = [];
        let buffer = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = block
              .split("\n")
              .filter((line) => line.startsWith("data: "))
              .map((line) => line.slice(6))
              .join("\n");
            if (data !== "") snapshots.push(JSON.parse(data) as DashboardSnapshot);
          }
          for (const waiter of waiters.splice(0)) waiter();
        });
        const ended = new Promise<void>((done) => response.once("close", done));
        resolve({
          status: response.statusCode!,
          headers: response.headers,
          snapshots,
          ended,
          waitFor: (count, ms = 10_000) =>
            within(
              new Promise<DashboardSnapshot>((done) => {
                const check = (): void => {
                  if (snapshots.length >= count) done(snapshots[count - 1]!);
                  else waiters.push(check);
                };
                check();
              }),
              ms,
              `${count} dashboard snapshots`,
            ),
          close: () => request.destroy(),
        });
      });
      request.once("error", reject);
      request.end();
    }),
    10_000,
    `GET ${path}`,
  );
}
