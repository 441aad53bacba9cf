/**
 * `releaseDescriptors` runs after every request a handler served (issue 19: it was 2–3 % of a
 * hub's CPU per Unix call). It closes the descriptors nobody took, so it must look into the
 * request while any descriptor is open in the process, and need not while none is: an open
 * channel (every session has one) is no reason to walk a request.
 */
import { closeSync, openSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { releaseDescriptors } from "../../model/attachments.js";
import { Channel } from "../../model/channel.js";
import { FileDescriptor } from "../../model/file-descriptor.js";

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const step of cleanup.splice(0)) step();
});

/** Request data whose every read of `field` is counted. */
function watched(): { data: object; reads: () => number } {
  let reads = 0;
  const data = {
    op: "call",
    get field(): object {
      reads += 1;
      return { nested: [1, 2, 3] };
    },
  };
  return { data, reads: () => reads };
}

describe("releaseDescriptors", () => {
  it("does not walk a request while no descriptor is open, even with channels open", () => {
    const [mine, theirs] = Channel.pair();
    cleanup.push(() => mine.close());
    expect(theirs.isClosed).toBe(false);
    const { data, reads } = watched();
    releaseDescriptors(data);
    expect(reads()).toBe(0);
  });

  it("closes a descriptor nobody took, and leaves one that was taken", () => {
    const left = new FileDescriptor(openSync("/dev/null", "r"));
    const taken = new FileDescriptor(openSync("/dev/null", "r"));
    const kept = taken.take() as number;
    cleanup.push(() => left.close());
    const { data, reads } = watched();
    releaseDescriptors({ request: data, files: [left, taken] });
    expect(reads()).toBe(1); // a descriptor is open: the walk looks everywhere
    expect(left.isClosed).toBe(true);
    expect(taken.isClosed).toBe(true);
    // The taken one is the caller's: still open (closing a closed fd would throw EBADF).
    expect(() => closeSync(kept)).not.toThrow();
  });

  it("walks again once a descriptor is open, and stops once the last one closed", () => {
    const file = new FileDescriptor(openSync("/dev/null", "r"));
    const first = watched();
    releaseDescriptors(first.data);
    expect(first.reads()).toBe(1);
    file.close();
    const second = watched();
    releaseDescriptors(second.data);
    expect(second.reads()).toBe(0);
  });
});
