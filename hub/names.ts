import { InvalidNameError } from "../model/errors.js";

/** Labels attached to a service instance: short string keys to short string values. */
export type Labels = Readonly<Record<string, string>>;

/**
 * Service names are dotted or slashed paths (`db.main`, `app/site/hub`): 1–255 characters of
 * letters, digits and `_ - . / : @`, starting with a letter, digit or `_` (`@` names a service of
 * another hub of a federation: `echo@proxy2.broker`). Names travel in URLs
 * (the HTTP/2 mapping) and on the wire, so the grammar is kept to what needs no escaping.
 */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.\-/:@]{0,254}$/;
/** Label keys follow the same spirit but shorter: 1–63 characters. */
const LABEL_KEY = /^[A-Za-z0-9_][A-Za-z0-9_.\-/]{0,62}$/;
const MAX_LABEL_VALUE = 255;
const MAX_LABELS = 64;
// Control characters in label values would corrupt logs and line-based tools (`beamhub ls`).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Whether `name` is a valid service name. */
export function isValidName(name: unknown): name is string {
  return typeof name === "string" && NAME.test(name);
}

/** Throws `InvalidNameError` unless `name` is a valid service name. */
export function validateName(name: unknown): asserts name is string {
  if (typeof name !== "string") {
    throw new InvalidNameError(`service name must be a string, got ${typeof name}`);
  }
  if (!NAME.test(name)) {
    throw new InvalidNameError(
      `invalid service name ${JSON.stringify(name)}: use 1-255 of A-Z a-z 0-9 _ - . / : @, starting with a letter, digit or _`,
    );
  }
}

/** Throws `InvalidNameError` unless `labels` is a valid label set; returns a frozen copy. */
export function validateLabels(labels: unknown): Labels {
  if (labels === undefined) return EMPTY_LABELS;
  if (labels === null || typeof labels !== "object" || Array.isArray(labels)) {
    throw new InvalidNameError("labels must be an object of string keys to string values");
  }
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) {
    throw new InvalidNameError(`too many labels: ${entries.length} (at most ${MAX_LABELS})`);
  }
  const copy: Record<string, string> = {};
  for (const [key, value] of entries) {
    if (!LABEL_KEY.test(key)) {
      throw new InvalidNameError(
        `invalid label key ${JSON.stringify(key)}: use 1-63 of A-Z a-z 0-9 _ - . /, starting with a letter, digit or _`,
      );
    }
    // Copied into a plain object, this key would set the copy's prototype, not a label.
    if (key === "__proto__") throw new InvalidNameError('invalid label key "__proto__": reserved');
    if (typeof value !== "string") {
      throw new InvalidNameError(`label ${JSON.stringify(key)} must be a string, got ${typeof value}`);
    }
    if (value.length > MAX_LABEL_VALUE || CONTROL.test(value)) {
      throw new InvalidNameError(
        `invalid value for label ${JSON.stringify(key)}: at most ${MAX_LABEL_VALUE} characters, no control characters`,
      );
    }
    copy[key] = value;
  }
  return Object.freeze(copy);
}

/** True when every label in `wanted` is present in `labels` with the same value. */
export function labelsMatch(labels: Labels, wanted: Labels | undefined): boolean {
  if (wanted === undefined) return true;
  for (const key in wanted) {
    if (labels[key] !== wanted[key]) return false;
  }
  return true;
}

export const EMPTY_LABELS: Labels = Object.freeze({});
