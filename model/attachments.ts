import { Attachable } from "../codecs/reference.js";
import { InvalidMessageError } from "./errors.js";
import type { Ownable, Scope } from "./scope.js";

/** How deep message data may nest; deeper data is almost always a cycle. */
export const MAX_DEPTH = 64;

/**
 * How many attachments (channels, byte streams, descriptors) are open in this process. While
 * it is zero no message can carry one, so the walk below is skipped: plain calls pay nothing.
 */
let open = 0;
/**
 * How many of those are file descriptors. While it is zero no message can carry one, so
 * `releaseDescriptors` (run after every request a handler served) does not walk the request.
 */
let openDescriptors = 0;

/**
 * Counts an attachment as open (`descriptor`: it is a file descriptor); each attachment calls
 * `countClosed` exactly once later, with the same `descriptor`.
 */
export function countOpen(descriptor = false): void {
  open += 1;
  if (descriptor) openDescriptors += 1;
}

/** Counts an attachment as closed (taken, finished or reset). */
export function countClosed(descriptor = false): void {
  open -= 1;
  if (descriptor) openDescriptors -= 1;
}

/** An attachment as the hub handles it: a codec reference that scopes can own. */
export type HubAttachment = Attachable & Ownable;

/**
 * Makes `scope` (and `also`, when given) own every attachment in `data`, in one walk. Returns
 * how many attachments `data` holds, so that callers can skip later walks of data that has none.
 */
export function adoptAttachments(data: unknown, scope: Scope, also?: Scope): number {
  if (open === 0 || data === null || typeof data !== "object") return 0;
  return visit(data, 0, own, scope, also);
}

/** How many attachments (channels, byte streams, descriptors) `data` carries. */
export function countAttachments(data: unknown): number {
  if (open === 0 || data === null || typeof data !== "object") return 0;
  return visit(data, 0, ignore, undefined, undefined);
}

/**
 * Closes every file descriptor in `data` that nobody took. A descriptor that arrives in a
 * request belongs to the handling of that request: a handler that keeps it must `take()` it
 * before it answers, otherwise it is closed when the answer goes — not left open until the whole
 * session ends (which, for a long-lived session, would be a leak).
 */
export function releaseDescriptors(data: unknown): void {
  if (openDescriptors === 0 || data === null || typeof data !== "object") return;
  try {
    visit(data, 0, closeDescriptor, undefined, undefined);
  } catch {
    // Too deep to walk: such data was refused on its way in, so it carries nothing of ours.
  }
}

/**
 * Closes every attachment in `data` — channels, byte streams (reset) and descriptors — with
 * `reason`: for a message that could not be delivered (no such service, forbidden, timed out
 * before a handler got it, its session gone). Nobody else will ever answer on those channels or
 * read those streams, so leaving them open would leave their other ends waiting forever.
 */
export function closeAttachments(data: unknown, reason: unknown): void {
  if (open === 0 || data === null || typeof data !== "object") return;
  try {
    visit(data, 0, closeAttachment, reason, undefined);
  } catch {
    // Too deep to walk: such data was refused on its way in, so it carries nothing of ours.
  }
}

// Plain functions with context arguments, so a walk allocates no closure (it runs per message).
const own = (attachment: HubAttachment, scope: Scope | undefined, also: Scope | undefined): void => {
  scope!.own(attachment);
  also?.own(attachment);
};
const ignore = (): void => undefined;
const closeDescriptor = (attachment: HubAttachment): void => {
  if (attachment.refKind === "fd") attachment.close();
};
const closeAttachment = (attachment: HubAttachment, reason: unknown): void => {
  attachment.close(reason);
};

/**
 * Calls `found` for every attachment in `value` and returns how many there are: the one walk
 * the functions above use. It looks into arrays, plain objects and Maps; other class instances
 * are opaque values.
 */
function visit<Context>(
  value: object,
  depth: number,
  found: (attachment: HubAttachment, context: Context, also: Scope | undefined) => void,
  context: Context,
  also: Scope | undefined,
): number {
  if (depth > MAX_DEPTH) {
    throw new InvalidMessageError(`message data nests deeper than ${MAX_DEPTH} levels (is it cyclic?)`);
  }
  // Byte arrays first: they are the most common leaf, and the cheapest to recognize.
  if (ArrayBuffer.isView(value)) return 0;
  if (value instanceof Attachable) {
    found(value as HubAttachment, context, also);
    return 1;
  }
  let count = 0;
  if (Array.isArray(value)) {
    for (const item of value) {
      if (item !== null && typeof item === "object") count += visit(item, depth + 1, found, context, also);
    }
    return count;
  }
  if (value instanceof Map) {
    for (const [key, item] of value) {
      if (key !== null && typeof key === "object") count += visit(key, depth + 1, found, context, also);
      if (item !== null && typeof item === "object") count += visit(item, depth + 1, found, context, also);
    }
    return count;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return 0;
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (item !== null && typeof item === "object") count += visit(item, depth + 1, found, context, also);
  }
  return count;
}
