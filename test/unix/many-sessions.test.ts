// 1,000 Unix sessions on one hub (issue 19): all of them connected at once, each with a call in
// flight at the same moment, every one answered with its own data; then all closed, and nothing
// is left: the hub holds no session and this process no extra fd (counted in /proc/self/fd, which
// holds both ends of every socket, since the hub and the clients run here). Real sockets; no
// timing is asserted, every wait is bounded.
import { readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { connectUnix, Hub, listenUnix, type RemoteHub } from "../../index.js";
import { within } from "../compliance/suite.js";

const SESSIONS = 1000;
/** Sessions that connect at a time: enough to be quick, few enough not to fill the accept backlog. */
const CONNECTING_AT_ONCE = 50;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-many-sessions-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const openFds = (): number => readdirSync("/proc/self/fd").length;

/** The hub's sessions over Unix (its in-process session, which serves `echo`, is not one). */
const unixSessions = (hub: Hub): number =>
  hub.sessionsInfo().filter((session) => session.transport === "unix").length;

/** Waits (bounded) until `check` holds, polling. */
async function eventually(check: () => boolean, what: string): Promise<void> {
  await within(
    (async () => {
      while (!check()) await new Promise((resolve) => setTimeout(resolve, 20));
    })(),
    30_000,
    what,
  );
}

it("answers 1,000 sessions calling at once, and closes them all without leaking an fd", async () => {
  const hub = new Hub();
  await hub.register("echo", (data: unknown) => data);
  const fdsBefore = openFds();
  // The default cap (1,024 connections in all, 256 per uid) would refuse most of them: one uid here.
  const listener = await listenUnix(hub, join(dir, "hub.sock"), {
    maxConnections: SESSIONS,
    maxConnectionsPerUid: SESSIONS,
  });
  const sessions: RemoteHub[] = [];
  try {
    await within(
      (async () => {
        for (let opened = 0; opened < SESSIONS; opened += CONNECTING_AT_ONCE) {
          const connecting = Array.from({ length: CONNECTING_AT_ONCE }, () =>
            connectUnix(listener.path, { reconnect: false }),
          );
          sessions.push(...(await Promise.all(connecting)));
        }
      })(),
      60_000,
      `${SESSIONS} sessions connecting`,
    );
    expect(listener.connections).toBe(SESSIONS);
    expect(unixSessions(hub)).toBe(SESSIONS);

    // Every session has one call in flight at the same moment; each answer is its own data.
    const answers = await within(
      Promise.all(sessions.map((session, index) => session.call("echo", { index, tag: `session-${index}` }))),
      60_000,
      `${SESSIONS} calls at once`,
    );
    expect(answers).toEqual(sessions.map((_, index) => ({ index, tag: `session-${index}` })));

    await within(
      Promise.all(sessions.splice(0).map((session) => session.close())),
      60_000,
      `${SESSIONS} sessions closing`,
    );
    await eventually(() => unixSessions(hub) === 0, "the hub dropping every closed session");
    expect(listener.connections).toBe(0);
  } finally {
    await Promise.allSettled(sessions.map((session) => session.close()));
    await listener.close();
    await hub.close();
  }
  // The listening socket is closed too: every fd this test opened is gone.
  await eventually(() => openFds() <= fdsBefore, `open fds back to ${fdsBefore}`);
  expect(openFds()).toBe(fdsBefore);
}, 180_000);
