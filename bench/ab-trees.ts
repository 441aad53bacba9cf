/**
 * A/B of two (or more) source trees of beamhub in one process: each tree's `Hub` serves an
 * in-process echo (a sync and an async handler), Moleculer's local `broker.call` runs alongside
 * as the peer, rounds are interleaved and rotated, timed in CPU time, and every ratio is the
 * median of per-round ratios with its spread. This is how a suspected regression is settled on
 * a loaded machine (issue 19): separate processes run minutes apart under other loads, while
 * here every tree meets the same machine in the same second.
 *
 * Make the trees with `git archive` (no checkout needed), e.g.:
 *
 *   for c in fe4ae5b 8b9ec81; do mkdir -p /tmp/ab/$c && git archive $c | tar -x -C /tmp/ab/$c \
 *     && ln -s "$PWD/node_modules" /tmp/ab/$c/node_modules; done
 *   AB_TREES=/tmp/ab/fe4ae5b,/tmp/ab/8b9ec81 npx tsx bench/ab-trees.ts
 *
 * Run it a second time with the trees in the other order: load order must not change a ratio.
 * A tree may also be a compiled dist/ folder (`npm run build`): sources run under tsx carry
 * esbuild's `__name` wrappers (tsx turns keepNames on), the compiled package does not.
 * `AB_BARE=1` adds each tree's hub with `stats: false` (trees that know the option).
 */
import { existsSync } from "node:fs";
import { basename } from "node:path";
import { ServiceBroker } from "moleculer";
import { measureMode, MODES, type Operation } from "./modes.js";

interface TreeHub {
  call(name: string, data?: unknown): Promise<unknown>;
  register(name: string, handler: (data: unknown) => unknown): Promise<unknown>;
  close(): Promise<void>;
}

const trees = (process.env.AB_TREES ?? "").split(",").filter((tree) => tree !== "");
if (trees.length < 2) throw new Error("set AB_TREES to two or more tree directories, comma-separated");
const count = Number(process.env.BENCH_COUNT ?? 100_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 9);
const payload = { user: "ada", action: "lookup", id: 42 };

const hubs: { name: string; hub: TreeHub }[] = [];
for (const tree of trees) {
  // A tree is sources (index.ts) or a compiled package (a dist/ folder with index.js).
  const entry = existsSync(`${tree}/index.ts`) ? `${tree}/index.ts` : `${tree}/index.js`;
  const { Hub } = (await import(entry)) as { Hub: new (options?: object) => TreeHub };
  const variants: [string, object][] = [["", {}]];
  if (process.env.AB_BARE === "1") variants.push([" (stats off)", { stats: false }]);
  for (const [suffix, options] of variants) {
    const hub = new Hub(options);
    await hub.register("echo", (data) => data);
    await hub.register("echo.async", async (data) => data);
    hubs.push({
      name: (basename(tree) === "dist" ? `${basename(tree.slice(0, -5))}/dist` : basename(tree)) + suffix,
      hub,
    });
  }
}
const broker = new ServiceBroker({ logger: false, nodeID: "bench" });
broker.createService({
  name: "echo",
  actions: {
    echo: (ctx: { params: unknown }) => ctx.params,
    async: async (ctx: { params: unknown }) => ctx.params,
  },
});
await broker.start();

for (const mode of MODES) {
  const operations: Operation[] = [];
  for (const { name, hub } of hubs) {
    operations.push([`${name} sync`, () => hub.call("echo", payload)]);
    operations.push([`${name} async`, () => hub.call("echo.async", payload)]);
  }
  operations.push(["moleculer sync", () => broker.call("echo.echo", payload)]);
  operations.push(["moleculer async", () => broker.call("echo.async", payload)]);
  const { results, ratio } = await measureMode(mode, operations, count, rounds);
  for (const result of results) {
    console.log(
      `  ${result.name.padEnd(32)} ${Math.round(result.opsPerSecond).toLocaleString("en-US").padStart(12)}/s`,
    );
  }
  for (const { name } of hubs) {
    console.log(
      `  ${name} / moleculer: sync ${ratio(`${name} sync`, "moleculer sync")}, async ${ratio(`${name} async`, "moleculer async")}`,
    );
  }
  const first = hubs[0]!.name;
  for (const { name } of hubs.slice(1)) {
    console.log(
      `  ${name} / ${first}: sync ${ratio(`${name} sync`, `${first} sync`)}, async ${ratio(`${name} async`, `${first} async`)}`,
    );
  }
}
await broker.stop();
for (const { hub } of hubs) await hub.close();
