// The hostile-operations property, for any transport: batches of hub requests with structured
// hostile arguments (hostile-values.ts) sent at once on a fresh session, which is then closed
// with whatever is still in flight. Every refusal must be a typed error; the session must outlive
// its hostile requests; every few batches the process and the bystander are checked.
import fc from "fast-check";
import { expect } from "vitest";
import type { RemoteHub } from "../../hub/remote/remote-hub.js";
import { within } from "../compliance/suite.js";
import { hostileRequest, materialize } from "./hostile-values.js";
import { fuzzParameters } from "./settings.js";

const CODE = /^E[A-Z0-9_]+$/;

/** Runs the property; `connect` opens an attacker session, `checkpoint` checks the hub's health. */
export async function fuzzHostileOperations(
  name: string,
  shortRuns: number,
  connect: () => Promise<RemoteHub>,
  checkpoint: (what: string) => Promise<void>,
): Promise<{ refused: number; answered: number }> {
  let batches = 0;
  let refused = 0;
  let answered = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(hostileRequest, { minLength: 1, maxLength: 12 }), async (requests) => {
      const attacker = await connect();
      const ours: { close(): void }[] = [];
      try {
        const outcomes = await Promise.all(
          requests.map((request) =>
            attacker.connection.root.request(materialize(request, ours), { timeout: 1500 }).then(
              () => undefined,
              (error: { code?: unknown; message?: string }) => error,
            ),
          ),
        );
        for (const error of outcomes) {
          if (error === undefined) {
            answered++;
            continue;
          }
          refused++;
          expect(
            typeof error.code === "string" && CODE.test(error.code),
            `untyped refusal: ${String(error.message)}`,
          ).toBe(true);
        }
        // Hostile arguments fail their request, never the session.
        expect(
          await within(attacker.list({ prefix: "fuzz." }), 5000, "the attacker's own list"),
        ).toBeInstanceOf(Array);
      } finally {
        for (const end of ours) end.close();
        // Closing with calls in flight is what once rejected them unhandled in the hub.
        await attacker.close();
      }
      if (++batches % 10 === 0) await checkpoint(`after ${batches} batches of hostile operations`);
    }),
    { ...fuzzParameters(name, shortRuns, 6), endOnFailure: true },
  );
  await checkpoint("after the hostile operations");
  return { refused, answered };
}
