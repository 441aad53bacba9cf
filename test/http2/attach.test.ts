// beamhub attached to an application's own HTTP/2 server: its REST routes keep answering on
// the same port while HTTP/2 and WebSocket sessions reach the hub.
import { createSecureServer, connect as http2Connect, type Http2SecureServer } from "node:http2";
import { get as httpsGet } from "node:https";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  type AttachedHub,
  attachHub,
  type CertificatePair,
  connectHttps,
  createDevCertificate,
  Hub,
} from "../../index.js";
import { within } from "./helpers.js";

let hub: Hub;
let server: Http2SecureServer;
let attached: AttachedHub;
let certificate: CertificatePair;
let url: string;

beforeAll(async () => {
  hub = new Hub();
  await hub.register("echo", (data: unknown) => data);
  certificate = await createDevCertificate();
  server = createSecureServer({ ...certificate, allowHTTP1: true });
  // The application's own REST route.
  server.on("request", (request, response) => {
    if (request.url === "/health") {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ ok: true, http: request.httpVersion }));
    } else {
      response.writeHead(404);
      response.end();
    }
  });
  attached = attachHub(hub, server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await attached?.detach();
  await new Promise((resolve) => server?.close(resolve));
  await hub?.close();
});

function restOverHttp2(path: string): Promise<{ status: number; body: string }> {
  const session = http2Connect(url, { ca: certificate.cert });
  session.on("error", () => undefined);
  return within(
    new Promise((resolve, reject) => {
      const stream = session.request({ ":path": path });
      let body = "";
      let status = 0;
      stream.on("response", (headers) => (status = Number(headers[":status"])));
      stream.on("data", (chunk: Buffer) => (body += chunk.toString()));
      stream.on("end", () => {
        session.close();
        resolve({ status, body });
      });
      stream.on("error", reject);
    }),
    3000,
    `GET ${path}`,
  );
}

function restOverHttp1(path: string): Promise<{ status: number; body: string }> {
  return within(
    new Promise((resolve, reject) => {
      httpsGet(`${url}${path}`, { ca: certificate.cert }, (response) => {
        let body = "";
        response.on("data", (chunk: Buffer) => (body += chunk.toString()));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
      }).on("error", reject);
    }),
    3000,
    `GET ${path} over HTTP/1.1`,
  );
}

it("serves the application's REST route over HTTP/2 and HTTP/1.1", async () => {
  expect(await restOverHttp2("/health")).toEqual({ status: 200, body: '{"ok":true,"http":"2.0"}' });
  expect(await restOverHttp1("/health")).toEqual({ status: 200, body: '{"ok":true,"http":"1.1"}' });
  expect((await restOverHttp2("/elsewhere")).status).toBe(404);
});

it.each(["http2", "websocket"] as const)("serves hub sessions on the same port (%s)", async (transport) => {
  const remote = await connectHttps(url, { ca: certificate.cert, transport });
  expect(await remote.call("echo", { same: "port" })).toEqual({ same: "port" });
  expect(attached.sessionCount).toBe(1);
  await remote.close();
});

it("serves the plain HTTP mapping next to the REST route", async () => {
  const listed = await restOverHttp2("/beamhub/v1/services");
  expect(listed.status).toBe(200);
  expect((JSON.parse(listed.body) as { name: string }[]).map((service) => service.name)).toEqual(["echo"]);
});
