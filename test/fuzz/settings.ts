// How hard the fuzz suite tries. `npm test` runs every property a few hundred times with fixed
// seeds (a failure there is reproducible as is); `npm run fuzz` (scripts/fuzz.mjs) runs the same
// properties with FUZZ_RUNS runs each and a random FUZZ_SEED it prints first, so any failure can
// be replayed with `FUZZ_SEED=<seed> FUZZ_RUNS=<runs> npx vitest run test/fuzz/<file>`.
import type fc from "fast-check";

const seedText = process.env.FUZZ_SEED;
const runsText = process.env.FUZZ_RUNS;

/** The seed every property derives its own from (fixed unless FUZZ_SEED is given). */
export const FUZZ_SEED = seedText === undefined ? 0x5eedbea : Number.parseInt(seedText, 10);
/** Runs per property when FUZZ_RUNS is given; otherwise each property uses its short count. */
const RUNS = runsText === undefined ? undefined : Number.parseInt(runsText, 10);

if (!Number.isSafeInteger(FUZZ_SEED)) throw new Error(`FUZZ_SEED must be an integer, got ${seedText}`);
if (RUNS !== undefined && !(RUNS > 0))
  throw new Error(`FUZZ_RUNS must be a positive integer, got ${runsText}`);

/** Whether this is the long run (`npm run fuzz`): waits are scaled to the number of runs. */
export const LONG_RUN = RUNS !== undefined;

/** The number of runs of a property whose short (CI) count is `short`. */
export function runs(short: number): number {
  return RUNS ?? short;
}

/**
 * fast-check parameters for the property `name`: its own seed (the run's seed mixed with the
 * name, so properties do not all draw the same values) and its number of runs. A property whose
 * every run sends a batch of `batch` inputs runs FUZZ_RUNS / `batch` times in the long run.
 */
export function fuzzParameters<T>(name: string, short: number, batch = 1): fc.Parameters<T> {
  return {
    seed: mix(FUZZ_SEED, name),
    numRuns: RUNS === undefined ? short : Math.max(1, Math.ceil(RUNS / batch)),
  };
}

/** A test's time limit: `short` in CI, an hour in the long run. */
export function timeLimit(short: number): number {
  return LONG_RUN ? 3_600_000 : short;
}

/** The 32-bit FNV-1a hash of `name`, xor the seed: a stable per-property seed. */
function mix(seed: number, name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (seed ^ hash) | 0;
}
