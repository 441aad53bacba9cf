// A hub judged dead while it was only frozen (SIGSTOP past deadAfterMs, as an overloaded hub at
// load 27 was) comes back: the others deleted its keys and its record, forgot its stand-ins and
// reset its links; after SIGCONT every other hub must list and call its services again, and
// its record must be back in the registry (a later judgment checks the epoch against it).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kvm, type KV } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Hub } from "../../index.js";
import { joinCluster, type Cluster } from "../../cluster/index.js";
import { ClusterSubjects } from "../../cluster/subjects.js";
import { connectUnix } from "../../hub/remote/connect-unix.js";
import { startCli, within, type RunningCli } from "../cli/helpers.js";
import { startNatsServer, type SingleNatsServer } from "../helpers/nats-cluster.js";

const NAME = "judged";
const subjects = new ClusterSubjects(NAME);
let dir: string;
let nats: SingleNatsServer;
const judges: { hub: Hub; cluster: Cluster; errors: string[] }[] = [];
let hubC: RunningCli | undefined;
let kv: KV;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-judged-dead-"));
  nats = await startNatsServer();
  for (const name of ["hub-a", "hub-b"]) {
    const hub = new Hub();
    const errors: string[] = [];
    // Quick judges: a frozen hub is declared dead 1.5 s into its silence.
    const cluster = await joinCluster(hub, {
      servers: nats.url,
      name: NAME,
      hub: name,
      heartbeatMs: 300,
      deadAfterMs: 1500,
      onError: (error) => errors.push(String(error)),
    });
    judges.push({ hub, cluster, errors });
  }
  kv = await new Kvm(judges[0]!.cluster.nats).open(subjects.bucket);
}, 60_000);

afterAll(async () => {
  await hubC?.stop();
  for (const { hub, cluster } of judges) {
    await cluster.leave();
    await hub.close();
  }
  await nats?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Polls `check` every 50 ms until it holds; fails naming `what` after `ms`. */
async function until(check: () => Promise<boolean>, ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what()} (waited ${ms} ms)`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Whether `key` holds a value in the registry (not deleted). */
async function present(key: string): Promise<boolean> {
  const entry = await kv.get(key);
  return entry !== null && entry.operation === "PUT";
}

describe("a hub judged dead while frozen", () => {
  it("comes back: every other hub lists and calls its services again, and its record is back", async () => {
    const socket = join(dir, "c.sock");
    hubC = await startCli(
      [
        "serve",
        "--listen-https",
        "off",
        "--socket",
        socket,
        "--cluster",
        nats.url,
        "--cluster-name",
        NAME,
      ].concat(["--hub-name", "hub-c"]),
      /press Ctrl-C/,
    );
    const service = await connectUnix(socket, { reconnect: false });
    await service.register("judged.echo", (data: unknown) => `c: ${String(data)}`);
    const key = subjects.serviceKey("judged.echo", "hub-c");
    const said = (): string =>
      `hub C said: ${hubC?.stderr().slice(-2000)}; the judges' errors: ` +
      judges.map(({ errors }) => errors.slice(-5).join(" | ")).join(" / ");
    const everyJudgeSees = async (count: number): Promise<boolean> => {
      for (const { hub } of judges) if ((await hub.lookup("judged.echo")).length !== count) return false;
      return true;
    };
    await until(
      () => everyJudgeSees(1),
      10_000,
      () => `the judges never saw hub C's service; ${said()}`,
    );
    expect(await present(subjects.hubKey("hub-c"))).toBe(true);

    hubC.child.kill("SIGSTOP");
    try {
      // Frozen until the judges have declared it dead: its key and record are gone.
      await until(
        async () => !(await present(key)) && !(await present(subjects.hubKey("hub-c"))),
        15_000,
        () => `the judges never deleted the frozen hub's keys; ${said()}`,
      );
      await until(
        () => everyJudgeSees(0),
        10_000,
        () => `a judge kept a stand-in of the dead hub; ${said()}`,
      );
    } finally {
      hubC.child.kill("SIGCONT");
    }

    await until(
      () => everyJudgeSees(1),
      10_000,
      () => `a judge did not see hub C's service again; ${said()}`,
    );
    for (const { hub } of judges)
      expect(
        await within(hub.call("judged.echo", "back", { timeout: 8000 }), 10_000, "a call to hub C"),
      ).toBe("c: back");
    await until(
      () => present(subjects.hubKey("hub-c")),
      10_000,
      () => `hub C's record was never written again; ${said()}`,
    );
    const record = (await kv.get(subjects.hubKey("hub-c")))!.json<{ hub: string; epoch: string }>();
    expect(record.hub).toBe("hub-c");

    // A late judge (they work apart) deletes the record after hub C wrote it back, and announces
    // it as judges do: hub C writes it again (in CI it once read its record just before such a
    // deletion and never looked again).
    await kv.delete(subjects.hubKey("hub-c"));
    judges[0]!.cluster.nats.publish(subjects.registryChanges, subjects.hubKey("hub-c"));
    await until(
      () => present(subjects.hubKey("hub-c")),
      10_000,
      () => `hub C did not write back a record deleted late; ${said()}`,
    );
    expect((await kv.get(subjects.hubKey("hub-c")))!.json<{ epoch: string }>().epoch).toBe(record.epoch);
    await service.close();
  }, 60_000);
});
