// The boundary checks of every hub operation. Arguments come from TypeScript callers and, through
// the transports, from peers that may send anything a codec can decode (a bigint where a number
// belongs, `{}` where an AbortSignal belongs). Each check runs before the operation changes any
// state, so a refused argument is a typed error and nothing else: a check that threw after a
// call started tracking itself once left a promise nobody handled, and the process died of it.
import { describeValue, toDuration } from "../model/durations.js";
import { InvalidArgumentError } from "../model/errors.js";
import { validateLabels, validateName } from "./names.js";
import type { CallOptions, ServiceFilter, WatchOptions } from "./types.js";

/** Instance ids are short (`i42`); anything longer is not one. */
const MAX_INSTANCE_ID = 255;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkSignal(value: unknown, what: string): AbortSignal | undefined {
  if (value === undefined || value instanceof AbortSignal) return value;
  throw new InvalidArgumentError(`${what} must be an AbortSignal, got ${describeValue(value)}`);
}

/**
 * `options` of a call, checked: a fresh object with the known fields only, durations clamped,
 * labels validated.
 */
export function checkCallOptions(options: unknown): CallOptions {
  if (options === undefined || options === null) return {};
  if (!isObject(options)) {
    throw new InvalidArgumentError(`call options must be an object, got ${describeValue(options)}`);
  }
  const checked: CallOptions = {};
  if (options.timeout !== undefined) checked.timeout = toDuration(options.timeout, "options.timeout");
  const signal = checkSignal(options.signal, "options.signal");
  if (signal !== undefined) checked.signal = signal;
  const cancelWith = options.cancelWith;
  if (cancelWith !== undefined) {
    if (!isObject(cancelWith) || typeof cancelWith.onCancel !== "function") {
      throw new InvalidArgumentError("options.cancelWith must have an onCancel(listener) method");
    }
    checked.cancelWith = cancelWith as unknown as CallOptions["cancelWith"];
  }
  if (options.labels !== undefined) checked.labels = validateLabels(options.labels);
  const instance = options.instance;
  if (instance !== undefined) {
    if (typeof instance !== "string" || instance.length === 0 || instance.length > MAX_INSTANCE_ID) {
      throw new InvalidArgumentError(
        `options.instance must be an instance id (a string of 1-${MAX_INSTANCE_ID} characters), got ${describeValue(instance)}`,
      );
    }
    checked.instance = instance;
  }
  const wait = options.waitForService;
  if (wait !== undefined) {
    checked.waitForService = typeof wait === "boolean" ? wait : toDuration(wait, "options.waitForService");
  }
  return checked;
}

/** A filter of `list` (and the filter part of `watch`), checked; labels validated and frozen. */
export function checkFilter(filter: unknown): ServiceFilter {
  if (filter === undefined || filter === null) return {};
  if (!isObject(filter)) {
    throw new InvalidArgumentError(`a service filter must be an object, got ${describeValue(filter)}`);
  }
  const checked: ServiceFilter = {};
  if (filter.name !== undefined) {
    validateName(filter.name);
    checked.name = filter.name;
  }
  if (filter.prefix !== undefined) {
    if (typeof filter.prefix !== "string" || filter.prefix.length > 255) {
      throw new InvalidArgumentError(
        `filter.prefix must be a string of at most 255 characters, got ${describeValue(filter.prefix)}`,
      );
    }
    checked.prefix = filter.prefix;
  }
  if (filter.labels !== undefined) checked.labels = validateLabels(filter.labels);
  return checked;
}

/** Options of `watch`, checked like a filter plus `existing` and `signal`. */
export function checkWatchOptions(options: unknown): WatchOptions {
  const checked: WatchOptions = checkFilter(options);
  if (options === undefined || options === null) return checked;
  const { existing, signal } = options as Record<string, unknown>;
  if (existing !== undefined) {
    if (typeof existing !== "boolean") {
      throw new InvalidArgumentError(`options.existing must be a boolean, got ${describeValue(existing)}`);
    }
    checked.existing = existing;
  }
  const checkedSignal = checkSignal(signal, "options.signal");
  if (checkedSignal !== undefined) checked.signal = checkedSignal;
  return checked;
}

/** `options` of `lookup`, checked. */
export function checkLookupOptions(options: unknown): { labels?: ReturnType<typeof validateLabels> } {
  if (options === undefined || options === null) return {};
  if (!isObject(options)) {
    throw new InvalidArgumentError(`lookup options must be an object, got ${describeValue(options)}`);
  }
  return options.labels === undefined ? {} : { labels: validateLabels(options.labels) };
}
