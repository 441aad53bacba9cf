// A bounded wait for a condition that some other party makes true (a report arriving, a log
// line written): polled, since the party offers nothing to await, and failing with `what`.
import { within } from "../compliance/suite.js";

/** Resolves once `condition` holds (checked every 10 ms); rejects after `ms` naming `what`. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
): Promise<void> {
  await within(
    (async () => {
      while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 10));
    })(),
    ms,
    what,
  );
}
