/**
 * Labels of Samply.Beam's hierarchical ids (`app1.proxy1.broker`): letters and digits of any
 * script (as Rust's `is_alphanumeric`) or `-`. Tasks check app ids with it, the PKI the hub ids
 * that certificates name.
 */
export const ID_LABEL = /^[\p{L}\p{N}-]+$/u;

/** Whether `id` is a dotted id (`broker`, `proxy1.broker`) whose every label is valid. */
export function isDottedId(id: string): boolean {
  return id.length > 0 && id.length <= 253 && id.split(".").every((label) => ID_LABEL.test(label));
}
