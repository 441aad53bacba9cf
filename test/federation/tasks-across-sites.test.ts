// Samply.Beam's task walkthrough across a federation, in one process over real TLS and real
// HTTP: app1 at site proxy1 (REST on its own port) posts a task to app2 at site proxy2; the task
// is sealed at proxy1, stored at the broker (in a kv log), opened at proxy2; the result goes
// back the same way. The broker's log holds no plaintext; a broker that alters what it stores,
// or a sender whose certificate is revoked, is refused at the reading site.
import { createPublicKey, generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveFederatedTasks } from "../../federation-tasks/broker-tasks.js";
import { SiteTasks } from "../../federation-tasks/site-tasks.js";
import type { UntrustedMessageError } from "../../federation-tasks/errors.js";
import { serveBroker, type Broker } from "../../federation/broker.js";
import { CertificateAuthority } from "../../federation/pki/authority.js";
import { SealingKeyring, sealingKeyId } from "../../federation/seal/sealing-keyring.js";
import { rawPublicKey } from "../../federation/seal/sealing-key.js";
import { joinFederation, type FederationSite } from "../../federation/site.js";
import { Hub } from "../../hub/hub.js";
import { listenHttps } from "../../hub/remote/listen-https.js";
import { listenTasksHttp, type TasksHttpListener } from "../../tasks/rest/listen-http.js";
import { TaskBroker } from "../../tasks/task-broker.js";
import type { HttpsListener } from "../../transports/http2/listen.js";
import type { Registration } from "../../hub/types.js";
import { aTask as walkthroughTask, RestClient } from "../tasks/helpers.js";

const APP1 = "app1.proxy1.broker";
const APP2 = "app2.proxy2.broker";
const QUESTION = "What is the answer to the ultimate question of life, the universe, and everything?";
const ANSWER = "The answer is 42";

let dir: string;
let ca: CertificateAuthority;
let brokerHub: Hub;
let listener: HttpsListener;
let broker: Broker;
let brokerTasks: TaskBroker;
let tasksService: Registration;
const closers: Array<() => Promise<unknown>> = [];
const rejected: UntrustedMessageError[] = [];
let proxy1: RestClient;
let proxy2: RestClient;
const sites = new Map<string, FederationSite>();
/** proxy2's sealing keys, on a clock a test moves forward to see a retired key dropped. */
let proxy2Skew = 0;
const proxy2Keys = new SealingKeyring(
  generateKeyPairSync("x25519").privateKey,
  [],
  () => Date.now() + proxy2Skew,
);

/** A site hub as `serve --federation DIR --broker URL --listen-http` runs it: its tasks kept at the broker. */
async function startSite(id: string, sealingKey?: SealingKeyring): Promise<RestClient> {
  const hub = new Hub();
  const credentials = await ca.issue(id);
  const site = await joinFederation(hub, {
    broker: listener.url,
    id,
    cert: credentials.certificate,
    key: credentials.key,
    root: ca.rootPem,
    ...(sealingKey === undefined ? {} : { sealingKey }),
  });
  const tasks = await TaskBroker.open({ id, apiKeys: { app1: "App1Secret", app2: "App1Secret" } });
  tasks.federate(new SiteTasks(site, { onRejected: (error) => rejected.push(error) }));
  const http: TasksHttpListener = await listenTasksHttp(tasks);
  closers.push(
    () => http.close(),
    () => tasks.close(),
    () => site.close(),
    () => hub.close(),
  );
  sites.set(id, site);
  return new RestClient(`http://127.0.0.1:${http.port}`);
}

function auth(app: string): Record<string, string> {
  return { authorization: `ApiKey ${app} App1Secret` };
}

/** Samply's walkthrough task, from app1 at proxy1 to app2 at proxy2. */
function aTask(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return walkthroughTask({ from: APP1, to: [APP2], ...overrides });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-federated-tasks-"));
  ca = await CertificateAuthority.init(join(dir, "ca"));
  const credentials = await ca.issue("broker");
  brokerHub = new Hub();
  listener = await listenHttps(brokerHub, {
    host: "127.0.0.1",
    port: 0,
    cert: credentials.certificate,
    key: credentials.key,
    ca: ca.rootPem,
    requireAuth: true,
  });
  broker = await serveBroker(brokerHub, { root: ca.rootPem, cert: credentials.certificate });
  brokerTasks = await TaskBroker.open({
    id: "broker",
    reachable: () => true,
    file: join(dir, "broker.kvlog"),
  });
  tasksService = await serveFederatedTasks(brokerHub, brokerTasks, broker);
  proxy1 = await startSite("proxy1.broker");
  proxy2 = await startSite("proxy2.broker", proxy2Keys);
}, 30_000);

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await brokerTasks?.close();
  await listener?.close();
  await brokerHub?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("tasks across the sites of a federation", () => {
  it("runs Samply's walkthrough from proxy1 to proxy2 through the broker, which holds only ciphertext", async () => {
    const task = aTask();
    const id = task.id as string;
    const posted = await proxy1.request("POST", "/v1/tasks", auth(APP1), task);
    expect(posted.status).toBe(201);
    expect(posted.headers.get("location")).toBe(`/v1/tasks/${id}`);

    // The worker at the other site finds it, readable.
    const todo = await proxy2.request("GET", "/v1/tasks?filter=todo&wait_count=1&wait_time=10s", auth(APP2));
    expect(todo.status).toBe(200);
    expect(todo.json()).toEqual([expect.objectContaining({ id, from: APP1, to: [APP2], body: QUESTION })]);
    // The sender reads its own task back, too.
    const own = await proxy1.request("GET", `/v1/tasks/${id}`, auth(APP1));
    expect(own.json()).toMatchObject({ id, body: QUESTION, metadata: task.metadata });

    const result = (status: string, body?: string) => ({
      from: APP2,
      metadata: ["Arbitrary", "types", "are", "possible"],
      status,
      task: id,
      to: [APP1],
      ...(body === undefined ? {} : { body }),
    });
    expect(
      (await proxy2.request("PUT", `/v1/tasks/${id}/results/${APP2}`, auth(APP2), result("claimed"))).status,
    ).toBe(201);
    // Server-sent events at proxy1 see the claim, then the answer.
    const events = fetch(`${proxy1.base}/v1/tasks/${id}/results?wait_count=1&wait_time=20s`, {
      headers: { ...auth(APP1), accept: "text/event-stream" },
      signal: AbortSignal.timeout(25_000),
    }).then((response) => response.text());
    expect(
      (
        await proxy2.request(
          "PUT",
          `/v1/tasks/${id}/results/${APP2}`,
          auth(APP2),
          result("succeeded", ANSWER),
        )
      ).status,
    ).toBe(204);
    const results = await proxy1.request(
      "GET",
      `/v1/tasks/${id}/results?wait_count=1&wait_time=10s`,
      auth(APP1),
    );
    expect(results.status).toBe(200);
    expect(results.json()).toEqual([result("succeeded", ANSWER)]);
    const stream = await events;
    expect(stream).toContain("event: new_result");
    expect(stream).toContain(ANSWER);

    // What the broker stored (and logged to its file) is sealed: no body in clear, metadata readable.
    const stored = await brokerTasks.task(APP1, id);
    expect(stored.body.startsWith("bhs1.")).toBe(true);
    expect(stored.metadata).toBe(task.metadata);
    const log = await readFile(join(dir, "broker.kvlog"), "utf8");
    expect(log).toContain(id);
    expect(log).not.toContain("ultimate question");
    expect(log).not.toContain(ANSWER);
  }, 60_000);

  it("answers 424 naming a recipient hub without a certificate, and refuses plaintext at the broker", async () => {
    const answer = await proxy1.request(
      "POST",
      "/v1/tasks",
      auth(APP1),
      aTask({ to: [APP2, "app9.proxy9.broker"] }),
    );
    expect(answer.status).toBe(424);
    expect(answer.json()).toEqual(["proxy9.broker"]);
    // A site (here, one that would skip sealing) may not store a body in clear at the broker.
    await expect(
      sites.get("proxy1.broker")!.broker.call("federation.tasks", { op: "post", app: APP1, task: aTask() }),
    ).rejects.toMatchObject({ code: "EINVALID_TASK" });
    // Nor act for another site's application.
    await expect(
      sites
        .get("proxy1.broker")!
        .broker.call("federation.tasks", { op: "tasks", app: APP2, query: { todo: true } }),
    ).rejects.toMatchObject({ code: "EFORBIDDEN" });
  }, 30_000);

  it("refuses a task the broker altered: a moved body fails its signature at the reading site", async () => {
    const task = aTask({ body: "sealed for one task" });
    expect((await proxy1.request("POST", "/v1/tasks", auth(APP1), task)).status).toBe(201);
    const stored = await brokerTasks.task(APP1, task.id as string);
    // The broker re-files the sealed body under other metadata and another id.
    const forged = { ...stored, id: randomUUID(), metadata: "rerouted", ttl: "60s" };
    await brokerTasks.post(APP1, forged);
    const before = rejected.length;
    const todo = await proxy2.request("GET", "/v1/tasks?filter=todo", auth(APP2));
    const ids = (todo.json() as Array<{ id: string }>).map((entry) => entry.id);
    expect(ids).toContain(task.id);
    expect(ids).not.toContain(forged.id);
    expect(rejected.length).toBeGreaterThan(before);
    expect(rejected.at(-1)!.message).toMatch(/refused/);
    const one = await proxy2.request("GET", `/v1/tasks/${forged.id}`, auth(APP2));
    expect(one.status).toBe(502);
    expect(one.text).toMatch(/signed|decrypt/);
  }, 30_000);

  it("keeps tasks at the broker across its restart (the kv log)", async () => {
    const task = aTask({ body: "still there" });
    expect((await proxy1.request("POST", "/v1/tasks", auth(APP1), task)).status).toBe(201);
    await brokerTasks.close();
    brokerTasks = await TaskBroker.open({
      id: "broker",
      reachable: () => true,
      file: join(dir, "broker.kvlog"),
    });
    await tasksService.unregister();
    tasksService = await serveFederatedTasks(brokerHub, brokerTasks, broker);
    const again = await proxy2.request("GET", `/v1/tasks/${task.id as string}`, auth(APP2));
    expect(again.status).toBe(200);
    expect(again.json()).toMatchObject({ body: "still there" });
  }, 30_000);

  it("takes a renewed site certificate without downtime, and refuses one for another hub", async () => {
    const site = sites.get("proxy2.broker")!;
    const renewed = await ca.issue("proxy2.broker");
    const other = await ca.issue("proxy3.broker");
    expect(() => site.reload({ cert: other.certificate, key: other.key })).toThrow(/names "proxy3.broker"/);
    expect(() => site.reload({ cert: renewed.certificate, key: other.key })).toThrow(/does not belong/);
    const old = site.keys.self.chain;
    site.reload({ cert: renewed.certificate, key: renewed.key });
    expect(site.keys.self.chain).toBe(renewed.certificate);
    expect(site.keys.self.chain).not.toBe(old);
    // The same session to the broker goes on; what proxy2 seals now is signed with the new key
    // and opens at proxy1, which fetches proxy2's renewed chain.
    const task = aTask({ from: APP2, to: [APP1], body: "signed with the renewed key" });
    expect((await proxy2.request("POST", "/v1/tasks", auth(APP2), task)).status).toBe(201);
    const read = await proxy1.request("GET", `/v1/tasks/${task.id as string}`, auth(APP1));
    expect(read.status).toBe(200);
    expect(read.json()).toMatchObject({ body: "signed with the renewed key" });
  }, 30_000);

  it("opens a task stored before its site rotated its sealing key; once that key is dropped, refuses it naming the key", async () => {
    const before = aTask({ body: "sealed before the rotation" });
    expect((await proxy1.request("POST", "/v1/tasks", auth(APP1), before)).status).toBe(201);
    const old = sealingKeyId(proxy2Keys.current);
    proxy2Keys.rotate(undefined, 86_400_000);
    const read = await proxy2.request("GET", `/v1/tasks/${before.id as string}`, auth(APP2));
    expect(read.status).toBe(200);
    expect(read.json()).toMatchObject({ body: "sealed before the rotation" });
    // The site hands out its new key at once (proxy1 takes it when its 30 s cache runs out).
    const fresh = await sites
      .get("proxy2.broker")!
      .broker.call<{ record: { key: string } }>("federation.keys", { hub: "proxy2.broker" });
    expect(fresh.record.key).toBe(rawPublicKey(createPublicKey(proxy2Keys.current)).toString("base64url"));

    // Two days on, the retired key is dropped: the stored body is refused, naming the key.
    proxy2Skew = 2 * 86_400_000;
    try {
      const gone = await proxy2.request("GET", `/v1/tasks/${before.id as string}`, auth(APP2));
      expect(gone.status).toBe(502);
      expect(gone.text).toContain(`sealing key ${old} of proxy2.broker`);
      // A list leaves it out and reports it, typed.
      const count = rejected.length;
      const todo = await proxy2.request("GET", "/v1/tasks?filter=todo", auth(APP2));
      expect(todo.json()).not.toContainEqual(expect.objectContaining({ id: before.id }));
      expect(rejected.slice(count).map((error) => error.cause)).toContainEqual(
        expect.objectContaining({ code: "ESEAL_KEY_DROPPED", keyId: old }),
      );
    } finally {
      proxy2Skew = 0;
    }
  }, 30_000);

  it("refuses a revoked sender: the broker turns its site away, other sites drop its tasks", async () => {
    const task = aTask({ body: "from a site about to be revoked" });
    expect((await proxy1.request("POST", "/v1/tasks", auth(APP1), task)).status).toBe(201);
    await ca.revoke("proxy1.broker");
    const crl = await ca.crl();
    expect(await broker.setRevocationList(crl)).toBe(1);
    // proxy2 fetches the broker's list (it also does so on joining and every 5 minutes).
    expect(await sites.get("proxy2.broker")!.refreshRevocations()).toBe(1);
    const one = await proxy2.request("GET", `/v1/tasks/${task.id as string}`, auth(APP2));
    expect(one.status).toBe(502);
    expect(one.text).toMatch(/revoked/);
    const todo = await proxy2.request("GET", "/v1/tasks?filter=todo", auth(APP2));
    expect((todo.json() as unknown[]).length).toBe(0);
    // The broker refuses the revoked site's requests (its TLS session is still up).
    const refused = await proxy1.request("GET", `/v1/tasks?from=${APP1}`, auth(APP1));
    expect(refused.status).toBe(403);
    // And proxy2 no longer seals to it: 424 names it.
    const toRevoked = await proxy2.request(
      "POST",
      "/v1/tasks",
      auth(APP2),
      aTask({ from: APP2, to: [APP1] }),
    );
    expect(toRevoked.status).toBe(424);
    expect(toRevoked.json()).toEqual(["proxy1.broker"]);
  }, 30_000);
});
