// Hubs on a NATS server that demands mutual TLS and credentials: hub A joins through the API
// (`tls`, user and password), hub C is `beamhub serve` with `--cluster-tls-*` and an nkey seed in
// `--cluster-creds FILE`; calls cross between them. Without a client certificate, with a wrong
// password or with a file that is not credentials, the join fails typed.
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createUser } from "@nats-io/nkeys";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterError, joinCluster, type Cluster } from "../../cluster/index.js";
import { connectUnix } from "../../hub/remote/connect-unix.js";
import { Hub } from "../../index.js";
import { startCli, type RunningCli } from "../cli/helpers.js";
import { startNatsServer, type SingleNatsServer } from "../helpers/nats-cluster.js";

let dir: string;
let nats: SingleNatsServer;
let seedFile: string;
const hubA = new Hub();
let clusterA: Cluster | undefined;
let hubC: RunningCli | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-cluster-tls-"));
  const user = createUser();
  seedFile = join(dir, "hub-c.nk");
  await writeFile(seedFile, new TextDecoder().decode(user.getSeed()) + "\n", { mode: 0o600 });
  nats = await startNatsServer({
    tls: { verifyClients: true },
    extraConfig: `authorization { users = [
      { user: "hub-a", password: "secret-a" }
      { nkey: "${user.getPublicKey()}" }
    ] }`,
    connectOptions: { user: "hub-a", pass: "secret-a" },
  });
}, 60_000);

afterAll(async () => {
  await hubC?.stop();
  await clusterA?.leave();
  await hubA.close();
  await nats?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The server's urls with the tls:// scheme (the client must speak TLS from the start). */
function tlsUrl(): string {
  return nats.url.replace(/^nats:/, "tls:");
}

describe("a cluster on NATS with mutual TLS and credentials", () => {
  it("joins through the API and through serve's flags; calls cross both ways", async () => {
    const tls = nats.tls!;
    clusterA = await joinCluster(hubA, {
      servers: tlsUrl(),
      name: "secure",
      hub: "hub-a",
      tls: { ca: tls.caFile, cert: tls.clientCertFile, key: tls.clientKeyFile },
      credentials: { user: "hub-a", password: "secret-a" },
    });
    hubA.session().registerNow("secure.a", () => "from a");

    const socket = join(dir, "c.sock");
    hubC = await startCli(
      [
        "serve",
        "--listen-https",
        "off",
        "--socket",
        socket,
        "--cluster",
        tlsUrl(),
        "--cluster-name",
        "secure",
        "--hub-name",
        "hub-c",
        "--cluster-tls-ca",
        tls.caFile,
        "--cluster-tls-cert",
        tls.clientCertFile,
        "--cluster-tls-key",
        tls.clientKeyFile,
        "--cluster-creds",
        seedFile,
      ],
      /press Ctrl-C/,
    );
    expect(hubC.stderr()).toMatch(/cluster: hub "hub-c" of cluster "secure"/);
    const service = await connectUnix(socket, { reconnect: false });
    try {
      await service.register("secure.c", (name: string) => `hello ${name} from c`);
      const until = Date.now() + 15_000;
      while ((await hubA.lookup("secure.c")).length === 0) {
        if (Date.now() > until) throw new Error(`hub A never saw secure.c; hub C said: ${hubC.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(await hubA.call("secure.c", "Ada", { timeout: 10_000 })).toBe("hello Ada from c");
      await waitUntil(async () => (await service.lookup("secure.a")).length === 1, "hub C to see secure.a");
      expect(await service.call("secure.a", null, { timeout: 10_000 })).toBe("from a");
    } finally {
      await service.close();
    }
  }, 60_000);

  it("without a client certificate, with a wrong password, or with a bad credentials file: ClusterError", async () => {
    const tls = nats.tls!;
    const hub = new Hub();
    const sessions = hub.sessionsInfo().length;
    const attempts = [
      { tls: { ca: tls.caFile }, credentials: { user: "hub-a", password: "secret-a" } },
      {
        tls: { ca: tls.caFile, cert: tls.clientCertFile, key: tls.clientKeyFile },
        credentials: { user: "hub-a", password: "wrong" },
      },
      {
        tls: { ca: tls.caFile, cert: tls.clientCertFile, key: tls.clientKeyFile },
        credentials: { file: tls.caFile },
      },
      { tls: { ca: join(dir, "missing.pem") } },
      { tls: { ca: tls.caFile, cert: tls.clientCertFile } },
    ];
    try {
      for (const attempt of attempts) {
        const error = await joinCluster(hub, {
          servers: tlsUrl(),
          name: "secure",
          hub: "intruder",
          ...attempt,
        }).then(
          (cluster) => cluster.leave().then(() => new Error(`joined with ${JSON.stringify(attempt)}`)),
          (failure: unknown) => failure,
        );
        expect(error, JSON.stringify(attempt)).toBeInstanceOf(ClusterError);
      }
      expect(hub.sessionsInfo()).toHaveLength(sessions);
    } finally {
      await hub.close();
    }
  }, 60_000);

  it("serve refuses a password on the command line's terms: it comes from the environment or a file", async () => {
    const { clusterServeOptions } = await import("../../cli/serve-cluster.js");
    const flags = (given: Record<string, string>) => (flag: string) =>
      given[flag] === undefined ? undefined : { value: given[flag], source: `--${flag}` };
    expect(() => clusterServeOptions(flags({ cluster: "tls://h:4222", "cluster-user": "u" }), {})).toThrow(
      /BEAMHUB_CLUSTER_PASSWORD or --cluster-password-file/,
    );
    expect(
      clusterServeOptions(flags({ cluster: "tls://h:4222", "cluster-user": "u" }), {
        BEAMHUB_CLUSTER_PASSWORD: "pw",
      })?.credentials,
    ).toEqual({ user: "u", password: "pw" });
    const file = join(dir, "password");
    await writeFile(file, "from-file\n");
    await chmod(file, 0o600);
    expect(
      clusterServeOptions(
        flags({ cluster: "tls://h:4222", "cluster-user": "u", "cluster-password-file": file }),
        {},
      )?.credentials,
    ).toEqual({ user: "u", password: "from-file" });
    expect(() =>
      clusterServeOptions(flags({ cluster: "tls://h:4222", "cluster-tls-cert": file }), {}),
    ).toThrow(/--cluster-tls-key/);
    expect(() => clusterServeOptions(flags({ "cluster-tls-ca": file }), {})).toThrow(/needs --cluster URLS/);
  });
});

async function waitUntil(check: () => Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
