// The tags Mles members publish under, apart from the member itself so that the public API's
// declarations never reach \`ws\` (a consumer's TypeScript would need @types/ws otherwise).

/** The `from` tag of an Mles member's publications: its uid under the `mles:` prefix. */
export function mlesIdentity(uid: string): string {
  return `mles:${uid}`;
}

/**
 * The `from` tag of a member's join frame (its header, published verbatim as Mles keeps it in
 * history). A tag of its own, so that members get join frames in history only — Mles has not
 * sent them live since v2.5 — and beamhub subscribers can tell a join from a message.
 */
export function mlesJoinIdentity(uid: string): string {
  return `mles-join:${uid}`;
}
