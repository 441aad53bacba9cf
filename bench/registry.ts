/**
 * The registry's algorithmic rows of issue 19, in one process (no peer exists for these):
 *
 * - a call filtered by labels and a `lookup` with labels, on one name served by 10, 100 and
 *   500 instances (each instance carries `shard=<i>` and `region=eu`; the filter picks the
 *   middle one, as a client that talks to one shard does, or matches them all);
 * - `list({prefix})` and `list()` over 50 000 registered services (100 groups of 500 names),
 *   reported as milliseconds the event loop is blocked per call.
 *
 * The goal is complexity, not absolute speed: the rates should stay flat as instances grow,
 * and a prefix listing should cost in proportion to its matches, not to the registry.
 *
 *   npx tsx bench/registry.ts
 */
import { Hub } from "../index.js";
import { measure, report, type Contender } from "./harness.js";

const INSTANCE_COUNTS = [10, 100, 500];

async function labelRows(count: number): Promise<Contender[]> {
  const hub = new Hub();
  const name = `shard${count}`;
  for (let i = 0; i < count; i++) {
    await hub.register(name, (data: unknown) => data, { labels: { shard: String(i), region: "eu" } });
  }
  // Made up front so that the loop measures the hub, not object literals.
  const one = { labels: { shard: String(count >> 1) } };
  const common = { labels: { region: "eu" } };
  return [
    {
      name: `call, labels match 1 of ${count}`,
      run: async (n) => {
        for (let i = 0; i < n; i++) await hub.call(name, i, one);
      },
    },
    {
      name: `call, labels match all ${count}`,
      run: async (n) => {
        for (let i = 0; i < n; i++) await hub.call(name, i, common);
      },
    },
    {
      name: `lookup, labels match 1 of ${count}`,
      run: async (n) => {
        for (let i = 0; i < n; i++) await hub.lookup(name, one);
      },
    },
  ];
}

async function listRows(): Promise<void> {
  const hub = new Hub();
  const groups = 100;
  const perGroup = 500;
  // Registered in an order unrelated to the sorted one, as real registrations arrive.
  const started = performance.now();
  for (let i = 0; i < perGroup; i++) {
    for (let g = groups - 1; g >= 0; g--) await hub.register(`g${g}.svc${i}`, () => i);
  }
  const registered = performance.now() - started;
  const time = async (label: string, calls: number, operation: () => Promise<unknown[]>): Promise<void> => {
    let found = 0;
    const samples: number[] = [];
    for (let i = 0; i < calls; i++) {
      const started = performance.now();
      found = (await operation()).length;
      samples.push(performance.now() - started);
    }
    samples.sort((a, b) => a - b);
    const median = samples[samples.length >> 1]!;
    console.log(
      `  ${label.padEnd(44)} ${median.toFixed(3).padStart(9)} ms/call (median of ${calls}; ${found} found)`,
    );
  };
  console.log(`\nlist at ${groups * perGroup} services (registered in ${registered.toFixed(0)} ms)`);
  await time("list({ prefix: 'g42.' })", 50, () => hub.list({ prefix: "g42." }));
  await time("list({ prefix: 'g42.svc1' }) (111 match)", 50, () => hub.list({ prefix: "g42.svc1" }));
  await time("list({ name: 'g42.svc7' })", 50, () => hub.list({ name: "g42.svc7" }));
  await time("list() (all)", 10, () => hub.list());
  await hub.close();
}

async function main(): Promise<void> {
  const count = Number(process.env.BENCH_COUNT ?? 100_000);
  for (const instances of INSTANCE_COUNTS) {
    const results = await measure(await labelRows(instances), count);
    console.log(
      report(`labels at ${instances} instances (${count} ops × 5 rounds, median)`, results, results[0]!.name),
    );
  }
  await listRows();
}

await main();
