// `npm run fuzz`: the fuzz suite of test/fuzz with many more runs per property and a random
// seed, printed first so that a failure can be replayed exactly:
//   FUZZ_SEED=<seed> FUZZ_RUNS=<runs> npx vitest run test/fuzz/<file>
// FUZZ_SEED and FUZZ_RUNS may be given to choose them; extra arguments go to vitest (e.g. a file).
import { spawnSync } from "node:child_process";
import { randomInt } from "node:crypto";

const seed = process.env.FUZZ_SEED ?? String(randomInt(0, 2 ** 31));
const runs = process.env.FUZZ_RUNS ?? "5000";
console.log(`fuzz: FUZZ_SEED=${seed} FUZZ_RUNS=${runs}`);
console.log(`fuzz: replay with FUZZ_SEED=${seed} FUZZ_RUNS=${runs} npx vitest run test/fuzz`);
const args = process.argv.slice(2);
const result = spawnSync("npx", ["vitest", "run", ...(args.length > 0 ? args : ["test/fuzz"])], {
  stdio: "inherit",
  env: { ...process.env, FUZZ_SEED: seed, FUZZ_RUNS: runs },
});
console.log(`fuzz: FUZZ_SEED=${seed} FUZZ_RUNS=${runs} ${result.status === 0 ? "passed" : "FAILED"}`);
process.exit(result.status ?? 1);
