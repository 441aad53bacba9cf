/**
 * Control requests between hubs (JSON on `_beam.<ns>.<hub>.ctl`, PROTOCOL.md "Cluster"): a
 * liveness probe, or the opening of a link. Anyone allowed to publish on the subject can send
 * bytes there, so they are checked field by field before any is used.
 * @module
 */

import type { Identity } from "../model/identity.js";

/**
 * A control request, as decoded. An `open` may name the **caller** the link carries calls of:
 * the serving hub serves the link as a session of that identity (`null`: an anonymous caller);
 * without it, as `{id: <from>, via: "cluster"}` (hubs before callers were carried).
 */
export type ControlRequest =
  { op: "open"; link: string; from: string; epoch: string; caller?: Identity | null } | { op: "probe" };

/** The answer to either request: the answering hub's epoch. */
export interface ControlAnswer {
  readonly epoch: string;
}

/** Longest hub name (as `joinCluster` allows) and epoch accepted in a request. */
const MAX_HUB_NAME = 128;
/** An epoch is 16 hex digits as hubs make them; anything short and plain is taken (tests, other hubs). */
const EPOCH = /^[0-9A-Za-z_-]{1,64}$/;
const LINK_ID = /^[0-9a-f]{16}$/;
/** Bounds on a carried caller: its id, how it was established, its attributes as JSON. */
const MAX_CALLER_ID = 1024;
const MAX_CALLER_VIA = 64;
export const MAX_CALLER_JSON = 8192;

/** Decodes a control request, or returns undefined for bytes that are not one. Never throws. */
export function decodeControlRequest(bytes: Uint8Array): ControlRequest | undefined {
  const request = parseJson(bytes) as Record<string, unknown> | undefined;
  if (typeof request !== "object" || request === null || Array.isArray(request)) return undefined;
  if (request.op === "probe") return { op: "probe" };
  if (request.op !== "open") return undefined;
  const { link, from, epoch } = request;
  if (typeof link !== "string" || !LINK_ID.test(link)) return undefined;
  if (typeof from !== "string" || from.length === 0 || from.length > MAX_HUB_NAME) return undefined;
  if (typeof epoch !== "string" || !EPOCH.test(epoch)) return undefined;
  if (!("caller" in request)) return { op: "open", link, from, epoch };
  const caller = decodeCaller(request.caller);
  return caller === undefined ? undefined : { op: "open", link, from, epoch, caller };
}

/** A carried caller: `null` (anonymous) or an identity within bounds; undefined if neither. */
function decodeCaller(value: unknown): Identity | null | undefined {
  if (value === null) return null;
  if (typeof value !== "object" || Array.isArray(value)) return undefined;
  const { id, via, attributes } = value as Record<string, unknown>;
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_CALLER_ID) return undefined;
  if (typeof via !== "string" || via.length === 0 || via.length > MAX_CALLER_VIA) return undefined;
  if (attributes === undefined) return { id, via };
  if (typeof attributes !== "object" || attributes === null || Array.isArray(attributes)) return undefined;
  return { id, via, attributes: attributes as Record<string, unknown> };
}

/**
 * `identity` as a link carries it: id, via and attributes when they are JSON (else without
 * them); undefined when it is too big to carry.
 */
export function carriedCaller(identity: Identity | undefined): Identity | null | undefined {
  if (identity === undefined) return null;
  const { id, via, attributes } = identity;
  let caller: Identity = { id, via };
  if (attributes !== undefined)
    try {
      caller = JSON.parse(JSON.stringify({ id, via, attributes })) as Identity;
    } catch {
      // Attributes JSON cannot hold (a BigInt, a cycle): the identity travels without them.
    }
  if (id.length > MAX_CALLER_ID || via.length > MAX_CALLER_VIA) return undefined;
  return JSON.stringify(caller).length > MAX_CALLER_JSON ? { id, via } : caller;
}

/** Decodes the answer to a control request (a probe's), or returns undefined. Never throws. */
export function decodeControlAnswer(bytes: Uint8Array): ControlAnswer | undefined {
  const answer = parseJson(bytes) as Record<string, unknown> | undefined;
  if (typeof answer !== "object" || answer === null) return undefined;
  return typeof answer.epoch === "string" && EPOCH.test(answer.epoch) ? { epoch: answer.epoch } : undefined;
}

/** A heartbeat (`beam.<ns>.hb.<hub>`): `{hub, epoch, seq}`, or undefined. Never throws. */
export function decodeHeartbeat(bytes: Uint8Array): { hub: string; epoch: string } | undefined {
  const beat = parseJson(bytes) as Record<string, unknown> | undefined;
  if (typeof beat !== "object" || beat === null) return undefined;
  const { hub, epoch } = beat;
  if (typeof hub !== "string" || hub.length === 0 || hub.length > MAX_HUB_NAME) return undefined;
  return typeof epoch === "string" && EPOCH.test(epoch) ? { hub, epoch } : undefined;
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}
