/**
 * What the hub's figures cost an in-process call: an A/B in one process of a hub that keeps
 * them (the default, with a prom-client registry scraped every second as Prometheus would, only
 * more often) against one that keeps none (`stats: false`), same handlers, same payload.
 *
 * Each round runs both back to back, in an order that rotates from round to round, so that
 * neither always runs right after a GC-heavy run; the result is the median of the per-round
 * ratios on/off with their quartiles: a shared 2-core VM drifts by tens of percent between
 * rounds, and pairing cancels that drift. Many short rounds rather than a few long ones: on a
 * loaded machine a round is sometimes stopped for milliseconds, and the median of many pairs
 * drops those rounds where the mean of a few long ones cannot.
 *
 * With `BENCH_BASELINE=<dir>` (a checkout of another commit, e.g. `git worktree add /tmp/old
 * <commit>` with a `node_modules` link), that tree's hubs run in the same rounds, so the on/off
 * ratios of two versions are measured under the same load.
 *
 *   npx tsx bench/metrics-cost.ts                  # 41 rounds of 50k calls per scenario, CPU time
 *   BENCH_CLOCK=wall npx tsx bench/metrics-cost.ts # wall time instead
 *   BENCH_CONTROL=1 npx tsx bench/metrics-cost.ts  # with an A/A control (figures off on both)
 *   BENCH_ROUNDS=101 BENCH_COUNT=20000 npx tsx bench/metrics-cost.ts
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import * as current from "../index.js";
import { median, pipelined } from "./harness.js";

const payload = { user: "ada", action: "lookup", id: 42 };

/** What the bench uses of a beamhub tree (this one, or the baseline's). */
interface Tree {
  Hub: typeof current.Hub;
  hubMetrics: typeof current.hubMetrics;
}
type Hub = current.Hub;
type Run = (hub: Hub, count: number) => Promise<void>;

const sequential =
  (name: string): Run =>
  async (hub, count) => {
    for (let i = 0; i < count; i++) await hub.call(name, payload);
  };
const inFlight =
  (name: string): Run =>
  (hub, count) =>
    pipelined(count, 100, () => hub.call(name, payload));

const scenarios: Array<[string, Run]> = [
  ["sync handler, sequential", sequential("echo")],
  ["sync handler, 100 in flight", inFlight("echo")],
  ["async handler, sequential", sequential("echo.async")],
  ["async handler, 100 in flight", inFlight("echo.async")],
];

/** The `q` quantile of `values` (nearest rank). */
function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.round(q * (sorted.length - 1))]!;
}

/**
 * Calls per second of CPU time (`BENCH_CLOCK=wall`: of wall time). On a machine shared with other
 * busy processes a round's wall time is mostly time spent waiting for a core; the process's CPU
 * time is what the calls cost (GC threads included).
 */
const CPU_CLOCK = process.env.BENCH_CLOCK !== "wall";

async function rate(run: Run, hub: Hub, count: number): Promise<number> {
  if (CPU_CLOCK) {
    const before = process.cpuUsage();
    await run(hub, count);
    const used = process.cpuUsage(before);
    return count / ((used.user + used.system) / 1e6);
  }
  const started = process.hrtime.bigint();
  await run(hub, count);
  return count / (Number(process.hrtime.bigint() - started) / 1e9);
}

/** A tree's two hubs: figures on (and scraped), figures off; `control`: both off (an A/A test). */
async function hubsOf(tree: Tree, control = false): Promise<{ on: Hub; off: Hub; stop(): Promise<void> }> {
  const on = new tree.Hub({ stats: !control });
  const metrics = tree.hubMetrics(on);
  const scraper = setInterval(() => void metrics.registry.metrics(), 1000);
  const off = new tree.Hub({ stats: false });
  for (const hub of [on, off]) {
    await hub.register("echo", (data: unknown) => data);
    await hub.register("echo.async", async (data: unknown) => data);
  }
  return {
    on,
    off,
    async stop() {
      clearInterval(scraper);
      await on.close();
      await off.close();
    },
  };
}

async function main(): Promise<void> {
  const trees: Array<[string, Tree]> = [["this tree", current]];
  const baseline = process.env.BENCH_BASELINE;
  if (baseline !== undefined)
    trees.push(["baseline", (await import(pathToFileURL(resolve(baseline, "index.ts")).href)) as Tree]);
  const pairs = await Promise.all(trees.map(async ([label, tree]) => ({ label, ...(await hubsOf(tree)) })));
  // BENCH_CONTROL=1: two hubs without figures measured the same way; their ratio shows what the
  // method itself resolves (it should be 1).
  if (process.env.BENCH_CONTROL === "1")
    pairs.push({ label: "A/A control", ...(await hubsOf(current, true)) });
  const count = Number(process.env.BENCH_COUNT ?? 50_000);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 41);
  console.log(
    `metrics on / off, in process (${count} calls × ${rounds} rounds, order rotating, ${CPU_CLOCK ? "CPU" : "wall"} time)`,
  );
  console.log(
    `  ${"scenario".padEnd(42)} ${"median".padStart(7)}  ${"25 %".padStart(6)}  ${"75 %".padStart(6)}  on calls/s`,
  );
  for (const [name, run] of scenarios) {
    const sides = pairs.flatMap((pair) => [pair.on, pair.off]);
    for (const hub of sides) await run(hub, count / 4); // warm-up
    const rates = sides.map((): number[] => []);
    for (let round = 0; round < rounds; round++) {
      for (let step = 0; step < sides.length; step++) {
        const index = (round + step) % sides.length;
        rates[index]!.push(await rate(run, sides[index]!, count));
      }
    }
    const fixed = (value: number): string => value.toFixed(3).padStart(6);
    pairs.forEach((pair, index) => {
      const on = rates[2 * index]!;
      const off = rates[2 * index + 1]!;
      const ratios = on.map((value, round) => value / off[round]!);
      const label = `${name} (${pair.label})`;
      console.log(
        `  ${label.padEnd(42)} ${fixed(median(ratios)).padStart(7)}  ${fixed(quantile(ratios, 0.25))}  ${fixed(quantile(ratios, 0.75))}  ${Math.round(median(on)).toLocaleString("en-US")}`,
      );
    });
  }
  for (const pair of pairs) await pair.stop();
}

await main();
