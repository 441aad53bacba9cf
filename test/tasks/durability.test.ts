/**
 * Tasks and results survive a broker killed with SIGKILL: everything acknowledged (a 201/204)
 * is there after a restart, and the log is compacted instead of growing without bound.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { readKvLog } from "../../kv/log.js";
import { TaskBroker } from "../../tasks/task-broker.js";
import { APP1, APP2, RestClient, aResult, aTask } from "./helpers.js";
import { nodeArgs } from "../helpers/programs.js";

const FIXTURE = join(import.meta.dirname, "fixtures", "task-hub.ts");
const dir = mkdtempSync(join(tmpdir(), "beamhub-tasks-"));
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

async function startHub(file: string): Promise<{ child: ChildProcess; rest: RestClient }> {
  const child = spawn(process.execPath, [...nodeArgs(FIXTURE), file], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the task hub did not start within 20 s")), 20_000);
    child.stdout!.once("data", (chunk: Buffer) => {
      clearTimeout(timer);
      resolve(Number(chunk.toString().trim()));
    });
    child.once("exit", (code) => reject(new Error(`the task hub exited with ${code}`)));
  });
  return { child, rest: new RestClient(`http://127.0.0.1:${port}`) };
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

describe("task durability", () => {
  it("keeps every acknowledged task and result across kill -9", { timeout: 90_000 }, async () => {
    const file = join(dir, "killed.kvlog");
    const first = await startHub(file);
    const tasks = Array.from({ length: 20 }, () => aTask());
    for (const task of tasks)
      expect((await first.rest.request("POST", "/v1/tasks", APP1, task)).status).toBe(201);
    await kill(first.child);

    const second = await startHub(file);
    const todo = (await second.rest.request("GET", "/v1/tasks?filter=todo", APP2)).json() as { id: string }[];
    expect(todo.map((t) => t.id).sort()).toEqual(tasks.map((t) => String(t.id)).sort());
    for (const task of tasks.slice(0, 10)) {
      const id = String(task.id);
      expect(
        (await second.rest.request("PUT", `/v1/tasks/${id}/results/${APP2}`, APP2, aResult(id, "succeeded")))
          .status,
      ).toBe(201);
    }
    await kill(second.child);

    const third = await startHub(file);
    for (const [index, task] of tasks.entries()) {
      const results = (
        await third.rest.request("GET", `/v1/tasks/${task.id}/results`, APP1)
      ).json() as unknown[];
      expect(results.length, `results of task ${index}`).toBe(index < 10 ? 1 : 0);
    }
    const again = (await third.rest.request("GET", "/v1/tasks?filter=todo", APP2)).json() as unknown[];
    expect(again).toHaveLength(10);
  });

  it("leaves expired tasks out on restart and compacts the log", async () => {
    const file = join(dir, "compacted.kvlog");
    const broker = await TaskBroker.open({
      id: "proxy1.broker",
      apiKeys: { app1: "k", app2: "k" },
      file,
      sweepInterval: 20,
    });
    const keep = aTask({ ttl: "1h" });
    await broker.post(APP1, keep);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 400; i++) await broker.post(APP1, aTask({ ttl: "1ms" }));
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    for (let i = 0; i < 500; i++)
      await broker.putResult(
        APP2,
        String(keep.id),
        APP2,
        aResult(String(keep.id), "tempfailed", { body: `try ${i}` }),
      );
    await broker.close();
    // 1,201 posted tasks, their sweeps and 500 results are ~1,700 appends; compaction rewrites the
    // log to its live records whenever 1,000 or more hold four times as many as live ones.
    const { records } = await readKvLog(file);
    expect(records.length).toBeLessThan(1000);
    const reopened = await TaskBroker.open({ id: "proxy1.broker", apiKeys: { app1: "k", app2: "k" }, file });
    const todo = await reopened.tasks(APP2, { todo: true });
    expect(todo.items.map((task) => task.id)).toEqual([keep.id]);
    expect((await reopened.results(APP1, String(keep.id))).items).toMatchObject([{ body: "try 499" }]);
    await reopened.close();
  });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));
