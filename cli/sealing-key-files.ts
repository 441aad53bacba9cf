import { createPrivateKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  DEFAULT_SEALING_KEY_KEEP_MS,
  retiredKeysFromJson,
  retiredKeysToJson,
  sealingKeyId,
  SealingKeyring,
  type RetiredSealingKey,
} from "../index.js";
import { CliError, EXIT } from "./errors.js";

/**
 * A site's sealing keys on disk, in its federation directory: `seal.key` is the current X25519
 * key (PEM, 0600, made on the first start); `seal-retired.json` (0600) the retired ones, each
 * with the date it is dropped. A dropped key's entry keeps its id and dates, never its key.
 */
export const SEALING_KEY_FILES = { current: "seal.key", retired: "seal-retired.json" } as const;

/** The keyring in `dir`: seal.key (made on the first start) and the retired keys still held. */
export function loadSealingKeyring(dir: string): SealingKeyring {
  const keyring = new SealingKeyring(currentKey(dir), readRetired(dir));
  writeRetired(dir, keyring.retired());
  return keyring;
}

/**
 * SIGHUP: takes the files again. When seal.key holds another key than `keyring`'s current one
 * (a rotation, by `beamhub enroll --rotate-seal` or by hand), the keyring's current key is kept
 * as retired (for the default time, unless the file already lists it), so no body sealed to it
 * is lost. Returns a line for the log, or undefined when nothing changed.
 */
export function reloadSealingKeyring(dir: string, keyring: SealingKeyring): string | undefined {
  const next = currentKey(dir);
  const onDisk = readRetired(dir);
  const before = sealingKeyId(keyring.current);
  const after = sealingKeyId(next);
  const byId = new Map<string, RetiredSealingKey>(keyring.retired().map((entry) => [entry.id, entry]));
  for (const entry of onDisk) byId.set(entry.id, entry);
  if (before !== after && !byId.has(before)) {
    const now = Date.now();
    byId.set(before, {
      id: before,
      key: keyring.current,
      retiredAt: now,
      dropAt: now + DEFAULT_SEALING_KEY_KEEP_MS,
    });
  }
  byId.delete(after);
  const unchanged = before === after && byId.size === keyring.retired().length;
  keyring.replace(next, [...byId.values()]);
  writeRetired(dir, keyring.retired());
  if (unchanged) return undefined;
  const held = keyring.retired().filter((entry) => entry.key !== undefined).length;
  return before === after
    ? `federation: sealing key ${after}; ${held} retired keys held`
    : `federation: sealing key ${before} retired, ${after} now handed out; ${held} retired keys held`;
}

/**
 * `beamhub enroll --rotate-seal`: a new seal.key; the old one goes to seal-retired.json, kept
 * `keepMs`. The retired file is written first, so that a crash in between loses no key.
 */
export function rotateSealingKeyFiles(dir: string, keepMs: number): { retired: string; current: string } {
  const file = join(dir, SEALING_KEY_FILES.current);
  if (!existsSync(file))
    throw new CliError(`${file} does not exist: a site makes it on its first start`, EXIT.usage);
  const keyring = new SealingKeyring(currentKey(dir), readRetired(dir));
  const retired = keyring.rotate(undefined, keepMs);
  writeRetired(dir, keyring.retired());
  writeAtomically(file, keyring.current.export({ format: "pem", type: "pkcs8" }) as string);
  return { retired: retired.id, current: sealingKeyId(keyring.current) };
}

function currentKey(dir: string): KeyObject {
  const file = join(dir, SEALING_KEY_FILES.current);
  if (!existsSync(file)) {
    const pem = generateKeyPairSync("x25519").privateKey.export({ format: "pem", type: "pkcs8" }) as string;
    writeFileSync(file, pem, { mode: 0o600, flag: "wx" });
  }
  try {
    return createPrivateKey(readFileSync(file, "utf8"));
  } catch (error) {
    throw new CliError(`${file}: not a PEM private key (${(error as Error).message})`, EXIT.usage, {
      cause: error,
    });
  }
}

function readRetired(dir: string): RetiredSealingKey[] {
  const file = join(dir, SEALING_KEY_FILES.retired);
  if (!existsSync(file)) return [];
  try {
    return retiredKeysFromJson(JSON.parse(readFileSync(file, "utf8")));
  } catch (error) {
    throw new CliError(`${file}: ${(error as Error).message}`, EXIT.usage, { cause: error });
  }
}

/** Writes the retired keys (dropped ones without their key); nothing when there are none and no file. */
function writeRetired(dir: string, retired: readonly RetiredSealingKey[]): void {
  const file = join(dir, SEALING_KEY_FILES.retired);
  if (retired.length === 0 && !existsSync(file)) return;
  writeAtomically(file, `${JSON.stringify(retiredKeysToJson(retired), null, 2)}\n`);
}

/** A whole new file (0600) or the old one: never half of one. */
function writeAtomically(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600 });
  renameSync(temporary, file);
}
