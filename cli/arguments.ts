import {
  InvalidAddressError,
  InvalidNameError,
  validateLabels,
  validateName,
  verifyChannelName,
  type Labels,
} from "../index.js";
import { parseListen, parseTarget, type TcpAddress } from "../internal.js";
import { UsageError } from "./errors.js";

/**
 * Checks of what a user typed, made before anything connects: the library's own checks, their
 * errors turned into usage errors (exit 2) of the command.
 */
function asUsage<T>(command: string, check: () => T, prefix = ""): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof InvalidNameError || error instanceof InvalidAddressError) {
      throw new UsageError(`${prefix}${error.message}`, command, { cause: error });
    }
    throw error;
  }
}

/** A service name as the hub accepts it (`db.main`, `app/site`). */
export function serviceNameArgument(command: string, name: string): string {
  asUsage(command, () => validateName(name));
  return name;
}

/** A pub/sub channel name as the hub accepts it (1-255 printable ASCII: `chat room`, `logs.app`). */
export function channelNameArgument(command: string, channel: string): string {
  asUsage(command, () => verifyChannelName(channel));
  return channel;
}

/** `--label key=value ...` as a label set, or undefined without any. */
export function labelsOption(command: string, values: readonly string[]): Labels | undefined {
  if (values.length === 0) return undefined;
  const labels: Record<string, string> = {};
  for (const value of values) {
    const equals = value.indexOf("=");
    if (equals <= 0) throw new UsageError(`--label takes key=value, got ${JSON.stringify(value)}`, command);
    labels[value.slice(0, equals)] = value.slice(equals + 1);
  }
  return asUsage(command, () => validateLabels(labels), "--label: ");
}

/** `tcp://host:port`; a bare `host:port` is answered with the URL it surely meant. */
export function targetArgument(command: string, target: string): TcpAddress {
  if (!target.includes("://") && /:\d+$/.test(target)) {
    throw new UsageError(
      `the target ${JSON.stringify(target)} needs its scheme: did you mean tcp://${target}?`,
      command,
    );
  }
  return asUsage(command, () => parseTarget(target));
}

/** A listen address (`HOST:PORT` or `PORT`), named by the option it came from. */
export function listenArgument(command: string, listen: string | undefined, option: string): TcpAddress {
  return asUsage(command, () => parseListen(listen), `${option}: `);
}
