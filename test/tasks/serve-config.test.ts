/**
 * The task settings of `beamhub serve`'s config file: `apps.<name>` as a key or as
 * `{key, identities}`, and `taskLimits` (the socket bounds among them), each checked before the
 * hub listens, a mistake named with its key (exit 2).
 */
import { describe, expect, it } from "vitest";
import { CliError } from "../../cli/errors.js";
import { taskServeOptions } from "../../cli/serve-tasks.js";

const noFlags = (): undefined => undefined;
const options = (file: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) =>
  taskServeOptions(noFlags, file, env);

describe("serve's task settings", () => {
  it("reads apps as keys or {key, identities}, and taskLimits", () => {
    const read = options(
      {
        apps: {
          app1: "k1",
          app2: { identities: ["unix:alice", "mtls:w1"] },
          app3: { key: "k3", identities: ["token:ci"] },
        },
        taskLimits: {
          maxSocketsPerApp: 5,
          maxPendingSockets: 50,
          socketBufferBytes: 4096,
          socketTtlMs: 10_000,
        },
      },
      { APP_app4_KEY: "k4" },
    );
    expect(read.apiKeys).toEqual({ app1: "k1", app3: "k3", app4: "k4" });
    expect(read.identities).toEqual({ app2: ["unix:alice", "mtls:w1"], app3: ["token:ci"] });
    expect(read.limits).toEqual({
      maxSocketsPerApp: 5,
      maxPendingSockets: 50,
      socketBufferBytes: 4096,
      socketTtlMs: 10_000,
    });
  });

  it.each([
    [{ apps: { app1: { identities: "unix:alice" } } }, "apps.app1.identities must be a list"],
    [{ apps: { app1: { keys: "x" } } }, "apps.app1: unknown field keys"],
    [{ apps: { app1: 7 } }, "apps.app1 must be a non-empty string or an object"],
    [{ taskLimits: { maxSockets: 1 } }, "taskLimits.maxSockets is unknown"],
    [{ taskLimits: { socketTtlMs: 0 } }, "taskLimits.socketTtlMs must be a positive whole number"],
    [{ taskLimits: [] }, "taskLimits must be an object"],
  ])("refuses %j", (file, message) => {
    let error: unknown;
    try {
      options(file);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).toContain(message);
    expect((error as CliError).exitCode).toBe(2);
  });
});
