import { ID_LABEL } from "../model/hub-id.js";
import { InvalidTaskError } from "./errors.js";

/**
 * Samply.Beam's hierarchical ids: `broker`, `proxy1.broker`, `app1.proxy1.broker`. beamhub's
 * hub id plays the proxy's part (`--id proxy1.broker`); the broker id is what follows the hub's
 * first label. Labels are letters and digits (any script, as Rust's `is_alphanumeric`) or `-`;
 * unlike Samply we also refuse empty labels, which can only be typos.
 */
export type BeamIdKind = "app" | "hub" | "broker";

/** The parts of a hub id: its own label and the broker it belongs to. */
export interface HubId {
  readonly id: string;
  readonly broker: string;
}

/** Checks a hub id (`proxy1.broker`, or a bare `broker` for a hub that is its own broker). */
export function parseHubId(id: string): HubId {
  const labels = id.split(".");
  if (!labels.every((label) => ID_LABEL.test(label))) throw new InvalidTaskError(`invalid hub id "${id}"`);
  return { id, broker: labels.length === 1 ? id : labels.slice(1).join(".") };
}

/**
 * What `id` is under `broker`: its kind and the hub it lives on. Throws `InvalidTaskError` (400)
 * for an id outside the broker, with bad labels, or too deep.
 */
export function classifyId(id: unknown, broker: string): { kind: BeamIdKind; hub: string } {
  if (typeof id !== "string") throw new InvalidTaskError(`an id must be a string, got ${typeof id}`);
  if (id === broker) return { kind: "broker", hub: broker };
  if (!id.endsWith(`.${broker}`))
    throw new InvalidTaskError(`id "${id}" does not belong to broker "${broker}"`);
  const labels = id.slice(0, -broker.length - 1).split(".");
  if (!labels.every((label) => ID_LABEL.test(label))) throw new InvalidTaskError(`invalid id "${id}"`);
  if (labels.length === 1) return { kind: "hub", hub: id };
  if (labels.length === 2) return { kind: "app", hub: `${labels[1]}.${broker}` };
  throw new InvalidTaskError(`id "${id}" has too many labels (app.hub.broker at most)`);
}

/** An application or hub id (a message's `from` and `to` entries); a broker id is refused. */
export function checkAppOrHubId(id: unknown, broker: string): { id: string; hub: string } {
  const { kind, hub } = classifyId(id, broker);
  if (kind === "broker")
    throw new InvalidTaskError(`"${String(id)}" is a broker id; address an app or a hub`);
  return { id: id as string, hub };
}

/** The application name rule of Samply's `APP_<name>_KEY` variables. */
export const APP_NAME = /^[A-Za-z0-9-]+$/;
