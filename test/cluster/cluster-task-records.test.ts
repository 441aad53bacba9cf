// The records of the cluster's task bucket: PROTOCOL.md's vectors, and robustness — whatever
// bytes sit under a key, reading them gives a checked record or a TaskRecordError, and the
// mirror skips what it cannot read without losing what it can.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { serializesConditionalWrites } from "../../cluster-tasks/cluster-task-store.js";
import { TaskRecordError } from "../../cluster-tasks/errors.js";
import { TaskMirror, type BucketChange } from "../../cluster-tasks/task-mirror.js";
import {
  decodeHubIdRecord,
  decodeResultRecord,
  decodeTaskRecord,
  encodeHubIdRecord,
  encodeResultRecord,
  encodeTaskRecord,
  parseTaskKey,
  resultKey,
  taskKey,
} from "../../cluster-tasks/task-records.js";

const protocol = readFileSync(join(import.meta.dirname, "../../PROTOCOL.md"), "utf8");
const vectors = [...protocol.matchAll(/```cluster-task-vector\n([\s\S]*?)```/g)].map((match) => {
  const field = (name: string): string => match[1]!.match(new RegExp(`^${name}: (.*)$`, "m"))![1]!;
  return { name: field("name"), key: field("key"), record: field("record") };
});
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const ID = "3a1ad3a1-63d6-4a8e-9e8c-5d3b2b4c0c11";

/** A valid task record under its key, at `expires`. */
function taskChange(id: string, revision: number, expires = Date.now() + 60_000): BucketChange {
  const record = encodeTaskRecord({
    task: {
      id,
      from: "app1.proxy1.broker",
      to: ["app2.proxy1.broker"],
      body: "b",
      failure_strategy: "discard",
      metadata: null,
    },
    expires,
    hub: "hub-a",
  });
  return { key: taskKey(id), value: bytes(record), revision, operation: "PUT" };
}

function resultChange(id: string, revision: number, status = "succeeded"): BucketChange {
  const value = encodeResultRecord({
    from: "app2.proxy1.broker",
    to: ["app1.proxy1.broker"],
    task: id,
    status: status as "succeeded",
    metadata: null,
  });
  return { key: resultKey(id, "app2.proxy1.broker"), value: bytes(value), revision, operation: "PUT" };
}

function mirror(): { mirror: TaskMirror; errors: unknown[]; orphans: string[] } {
  const errors: unknown[] = [];
  const orphans: string[] = [];
  return {
    mirror: new TaskMirror({
      broker: "broker",
      onError: (error) => errors.push(error),
      onOrphan: (key) => orphans.push(key),
    }),
    errors,
    orphans,
  };
}

describe("PROTOCOL.md, Cluster, Tasks", () => {
  it("reads every vector and writes it back byte for byte", () => {
    expect(vectors.map((vector) => vector.name)).toHaveLength(3);
    for (const { key, record, name } of vectors) {
      const kind = parseTaskKey(key)?.kind;
      const again =
        kind === "task"
          ? encodeTaskRecord(decodeTaskRecord(key, bytes(record), "broker"))
          : kind === "result"
            ? encodeResultRecord(decodeResultRecord(key, bytes(record), "broker"))
            : encodeHubIdRecord(decodeHubIdRecord(key, bytes(record)));
      expect(again, name).toBe(record);
    }
    expect(parseTaskKey(vectors[1]!.key)).toEqual({ kind: "result", id: ID, worker: "app2.proxy2.broker" });
    expect(parseTaskKey(vectors[2]!.key)).toEqual({ kind: "id", hubId: "proxy2.broker" });
  });
});

describe("task records from the bucket", () => {
  it("refuses each malformed record with a TaskRecordError naming the key and the fault", () => {
    const key = taskKey(ID);
    const valid = JSON.parse(vectors[0]!.record) as Record<string, unknown>;
    const cases: [string, unknown, RegExp][] = [
      ["not json", "{", /not UTF-8 JSON/],
      ["an array", [], /not a JSON object/],
      ["another version", { ...valid, v: 2 }, /version 2/],
      ["no hub", { ...valid, hub: "" }, /"hub"/],
      ["a negative expiry", { ...valid, expires: -1 }, /"expires"/],
      ["a task that is a string", { ...valid, task: "x" }, /"task" must be an object/],
      [
        "a sender outside the broker",
        { ...valid, task: { ...(valid.task as object), from: "a.b.other" } },
        /does not belong/,
      ],
      [
        "another task's id",
        { ...valid, task: { ...(valid.task as object), id: "4a1ad3a1-63d6-4a8e-9e8c-5d3b2b4c0c11" } },
        /holds task/,
      ],
    ];
    for (const [name, value, message] of cases) {
      const text = typeof value === "string" ? value : JSON.stringify(value);
      let thrown: unknown;
      try {
        decodeTaskRecord(key, bytes(text), "broker");
      } catch (error) {
        thrown = error;
      }
      expect(thrown, name).toBeInstanceOf(TaskRecordError);
      expect((thrown as TaskRecordError).code).toBe("ETASK_RECORD");
      expect((thrown as Error).message, name).toMatch(message);
      expect((thrown as Error).message).toContain(key);
    }
    expect(() => decodeTaskRecord(key, Uint8Array.of(0xff, 0xfe), "broker")).toThrow(TaskRecordError);
    // A result stored under another worker's key is someone else's.
    const result = vectors[1]!;
    expect(() =>
      decodeResultRecord(resultKey(ID, "app3.proxy2.broker"), bytes(result.record), "broker"),
    ).toThrow(/holds the result of app2/);
  });

  it("gives a checked record or a TaskRecordError for any bytes, any JSON and any mutation", () => {
    const valid = JSON.parse(vectors[0]!.record) as Record<string, unknown>;
    const outcome = (key: string, value: Uint8Array): void => {
      for (const decode of [
        () => decodeTaskRecord(key, value, "broker"),
        () => decodeResultRecord(key, value, "broker"),
        () => decodeHubIdRecord(key, value),
      ]) {
        try {
          decode();
        } catch (error) {
          if (!(error instanceof TaskRecordError)) throw error;
        }
      }
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (value) => outcome(taskKey(ID), value)),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.jsonValue(), (value) => outcome(taskKey(ID), bytes(JSON.stringify(value)))),
      { numRuns: 300 },
    );
    const fields = [
      "v",
      "hub",
      "expires",
      "task",
      "id",
      "from",
      "to",
      "body",
      "failure_strategy",
      "metadata",
    ];
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.jsonValue(), (field, replacement) => {
        const mutated = structuredClone(valid);
        if (field in mutated) mutated[field] = replacement;
        else (mutated.task as Record<string, unknown>)[field] = replacement;
        outcome(taskKey(ID), bytes(JSON.stringify(mutated)));
      }),
      { numRuns: 300 },
    );
  });

  it("knows which nats-server versions serialize conditional writes (nats-server#4320)", () => {
    expect(["2.9.10", "2.9.20", "", "garbage"].map(serializesConditionalWrites)).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect(["2.9.21", "2.10.0", "2.11.4-beta", "3.0.0"].map(serializesConditionalWrites)).toEqual([
      true,
      true,
      true,
      true,
    ]);
  });

  it("reads only the keys it knows", () => {
    expect(parseTaskKey("task.not-a-uuid")).toBeUndefined();
    expect(parseTaskKey("task")).toBeUndefined();
    expect(parseTaskKey(`result.${ID}`)).toBeUndefined();
    expect(parseTaskKey(`lock.${ID}`)).toBeUndefined();
    expect(parseTaskKey(taskKey(ID.toUpperCase()))).toEqual({ kind: "task", id: ID });
  });
});

describe("the mirror of the bucket", () => {
  it("skips malformed records, reporting each, and keeps serving the others", () => {
    const { mirror: copy, errors } = mirror();
    const other = "5b2be4b2-74e7-4b9f-8f9d-6e4c3c5d1d22";
    copy.watched({ key: taskKey(ID), value: bytes("{nope"), revision: 1, operation: "PUT" });
    copy.watched(taskChange(other, 2));
    copy.watched({
      key: resultKey(other, "app2.proxy1.broker"),
      value: bytes("[]"),
      revision: 3,
      operation: "PUT",
    });
    copy.watched({ key: "what.ever", value: bytes("{}"), revision: 4, operation: "PUT" });
    expect(errors.map((error) => (error as TaskRecordError).code)).toEqual(["ETASK_RECORD", "ETASK_RECORD"]);
    expect(copy.get(ID)).toBeUndefined();
    expect(copy.get(other)?.task.id).toBe(other);
    expect(copy.seen).toBe(4);
  });

  it("applies a key's changes in revision order: its own write first, the watch's copy once", () => {
    const { mirror: copy, orphans } = mirror();
    let woken = 0;
    const stop = copy.listen([`task:${ID}`], () => woken++);
    copy.wrote(taskChange(ID, 5));
    copy.wrote(resultChange(ID, 6, "claimed"));
    expect(copy.get(ID)?.results.get("app2.proxy1.broker")?.status).toBe("claimed");
    copy.watched(taskChange(ID, 5)); // the watch brings the same revisions again: nothing changes
    copy.watched(resultChange(ID, 6, "claimed"));
    copy.watched(resultChange(ID, 7, "succeeded"));
    copy.wrote(resultChange(ID, 6, "claimed")); // an old write the watch passed: ignored
    expect(copy.get(ID)?.results.get("app2.proxy1.broker")?.status).toBe("succeeded");
    expect(woken).toBe(2);
    copy.watched({ key: taskKey(ID), value: new Uint8Array(), revision: 8, operation: "DEL" });
    expect(copy.get(ID)).toBeUndefined();
    expect(woken).toBe(3);
    copy.watched(resultChange(ID, 9)); // a result that raced the removal
    expect(orphans).toEqual([resultKey(ID, "app2.proxy1.broker")]);
    stop();
  });

  it("hides an expired task at once, and knows the hub ids the cluster serves", async () => {
    const { mirror: copy } = mirror();
    copy.watched(taskChange(ID, 1, Date.now() - 1));
    copy.watched({
      key: "id.proxy2=2Ebroker",
      value: bytes(encodeHubIdRecord("hub-c")),
      revision: 2,
      operation: "PUT",
    });
    expect(copy.get(ID)).toBeUndefined();
    expect(copy.size).toBe(1);
    expect(copy.servesHubId("proxy2.broker")).toBe(true);
    expect(copy.servesHubId("proxy3.broker")).toBe(false);
    expect(await copy.reached(2, 10)).toBe(true);
    expect(await copy.reached(3, 10)).toBe(false);
  });
});
