/**
 * The two call patterns the in-process benches time (bench/in-process.ts, bench/ab-trees.ts,
 * bench/async-floor.ts) — one call at a time, and 100 in flight — with every contender's loop
 * its own copy of the code (own-loop.ts: a loop shared by contenders measures the later ones
 * with polymorphic feedback) and every round timed in CPU time (harness.ts: a loaded machine's
 * wall clock spreads the per-round ratios far wider).
 */
import { type Contender, formatSpread, measure, type Result, roundRatioSpread } from "./harness.js";
import { ownLoops } from "./own-loop.js";

/** The call patterns, in the order the benches print them. */
export const MODES = ["sequential", "100 in flight"] as const;
export type Mode = (typeof MODES)[number];

/** A named operation: one call of what is measured. */
export type Operation = [name: string, operation: () => Promise<unknown>];

/** Each operation as a contender that runs it in `mode`, with loops of its own. */
export async function contendersFor(mode: Mode, operations: Operation[]): Promise<Contender[]> {
  const contenders: Contender[] = [];
  // One at a time: each copy is a fresh module import, kept in the order of the list.
  for (const [name, operation] of operations) {
    const loops = await ownLoops(`${mode}: ${name}`, operation);
    contenders.push({
      name,
      run:
        mode === "sequential" ? (count) => loops.sequential(count) : (count) => loops.pipelined(count, 100),
    });
  }
  return contenders;
}

/** What {@link measureMode} found: the results, and their per-round ratios by name. */
export interface ModeResults {
  results: Result[];
  /** The median (lowest–highest) of the per-round ratios of `over`'s rate to `under`'s. */
  ratio(over: string, under: string): string;
}

/**
 * Times `operations` in `mode` (`count` calls × `rounds` rounds, CPU time, harness.ts's
 * `measure`) and prints the heading of the mode's section.
 */
export async function measureMode(
  mode: Mode,
  operations: Operation[],
  count: number,
  rounds: number,
): Promise<ModeResults> {
  const results = await measure(await contendersFor(mode, operations), count, rounds, "cpu");
  const samples = new Map(results.map((result) => [result.name, result.samples]));
  const samplesOf = (name: string): number[] => {
    const found = samples.get(name);
    if (found === undefined) throw new Error(`no contender named ${JSON.stringify(name)} was measured`);
    return found;
  };
  console.log(`\n${mode}: ${count} calls × ${rounds} rounds, CPU time, median (lowest–highest)`);
  return {
    results,
    ratio: (over, under) => formatSpread(roundRatioSpread(samplesOf(over), samplesOf(under))),
  };
}
