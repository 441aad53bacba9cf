/**
 * Benchmark loops with code of their own per contender. A loop function shared by several
 * contenders (`for (...) await operation()`) sees every contender's closures and promises at the
 * same call sites: V8's feedback there goes polymorphic, then megamorphic, and the contender that
 * runs after the others is measured with the slower code — in bench/in-process.ts that moved
 * beamhub's async handler against Moleculer's by up to 1.6× depending on the order of the list
 * (issue 19). Importing this module once per contender (a distinct query string each) gives each
 * its own copy of the code and of its type feedback.
 */

/** The loops of one contender over `operation`. */
export interface Loops {
  /** `count` operations, one at a time. */
  sequential(count: number): Promise<void>;
  /** `count` operations with at most `inFlight` outstanding. */
  pipelined(count: number, inFlight: number): Promise<void>;
}

export function loopsOver(operation: () => Promise<unknown>): Loops {
  return {
    async sequential(count) {
      for (let i = 0; i < count; i++) await operation();
    },
    async pipelined(count, inFlight) {
      let started = 0;
      const lane = async (): Promise<void> => {
        while (started < count) {
          started += 1;
          await operation();
        }
      };
      const lanes: Promise<void>[] = [];
      for (let i = 0; i < Math.min(inFlight, count); i++) lanes.push(lane());
      await Promise.all(lanes);
    },
  };
}

/** A copy of this module's code that only `key` uses (its own functions, its own feedback). */
export async function ownCopy(key: string): Promise<{ loopsOver: typeof loopsOver }> {
  // This very file (its own URL, whatever runs it: tsx, vitest or compiled), with a query.
  const self = import.meta.url.split("?")[0]!;
  return (await import(/* @vite-ignore */ `${self}?contender=${encodeURIComponent(key)}`)) as {
    loopsOver: typeof loopsOver;
  };
}

/** `loopsOver(operation)` from a copy of this module that only `key` uses. */
export async function ownLoops(key: string, operation: () => Promise<unknown>): Promise<Loops> {
  return (await ownCopy(key)).loopsOver(operation);
}
