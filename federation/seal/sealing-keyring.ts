import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { SealError } from "./errors.js";
import { open, type OpenOptions, type SealedBody } from "./seal.js";
import { rawPublicKey } from "./sealing-key.js";

/**
 * How long a retired sealing key is kept by default: 30 days, as long as the sealing-key record
 * that handed it out stays valid (`sealingKeyRecord`'s default) — a sender holding that record,
 * or a broker answering with it while the site was away, may seal to the old key until then.
 */
export const DEFAULT_SEALING_KEY_KEEP_MS = 30 * 86_400_000;

/** The most retired keys (held or dropped) a keyring remembers; the oldest go first. */
export const MAX_RETIRED_SEALING_KEYS = 64;

/** A sealing key no longer handed out: still opens what was sealed to it until `dropAt`. */
export interface RetiredSealingKey {
  /** {@link sealingKeyId} of its public key. */
  readonly id: string;
  /** The private key; undefined once dropped (then only its id and dates are remembered). */
  readonly key: KeyObject | undefined;
  /** When it stopped being the current key, ms since the epoch. */
  readonly retiredAt: number;
  /** When it is (or was) dropped, ms since the epoch. */
  readonly dropAt: number;
}

/** A body sealed to a key this hub dropped (`ESEAL_KEY_DROPPED`); `keyId` names that key. */
export class SealingKeyDroppedError extends SealError {
  readonly keyId: string;
  constructor(message: string, keyId: string, options?: { cause?: unknown }) {
    super(message, { ...options, code: "ESEAL_KEY_DROPPED" });
    this.keyId = keyId;
  }
}

/** A short, stable name of an X25519 key: 16 hex digits of the SHA-256 of its raw public key. */
export function sealingKeyId(key: KeyObject): string {
  const publicKey = key.type === "private" ? createPublicKey(key) : key;
  return createHash("sha256").update(rawPublicKey(publicKey)).digest("hex").slice(0, 16);
}

/**
 * Bounds a sender's view of a rotation: a sender that fetched the old record just before the
 * rotation may seal to the old key this long after it (the sites' key cache is 30 s).
 */
const SENDER_LAG_MS = 5 * 60_000;

/**
 * A site's sealing keys: the current one, which it hands out and which opens what is sealed to it,
 * and the retired ones, which still open what was sealed to them before a rotation (tasks kept at
 * the broker, say) until each one's `dropAt`. Rotating therefore never makes a stored body
 * unreadable before its time; past it, the key is gone (forward secrecy for old bodies) and a body
 * sealed to it fails with {@link SealingKeyDroppedError} naming the key.
 */
export class SealingKeyring {
  #current: KeyObject;
  #retired: RetiredSealingKey[];
  readonly #now: () => number;

  /** `retired`: in any order; `now`: the clock (tests). */
  constructor(current: KeyObject, retired: readonly RetiredSealingKey[] = [], now: () => number = Date.now) {
    checkKey(current);
    for (const entry of retired) if (entry.key !== undefined) checkKey(entry.key);
    this.#current = current;
    this.#retired = newestFirst(retired);
    this.#now = now;
  }

  /** The key that is handed out now. */
  get current(): KeyObject {
    return this.#current;
  }

  /** The retired keys, newest first; those past `dropAt` are dropped first. */
  retired(): readonly RetiredSealingKey[] {
    this.#drop();
    return this.#retired;
  }

  /**
   * Makes `next` the current key and retires the current one, kept for `keepMs` (default
   * {@link DEFAULT_SEALING_KEY_KEEP_MS}). Returns the retired entry.
   */
  rotate(next: KeyObject = generateKeyPairSync("x25519").privateKey, keepMs = DEFAULT_SEALING_KEY_KEEP_MS) {
    checkKey(next);
    if (!Number.isFinite(keepMs) || keepMs < 0)
      throw new SealError(`a retired sealing key's keep time is a duration ≥ 0 ms, got ${keepMs}`);
    const now = this.#now();
    const retired: RetiredSealingKey = {
      id: sealingKeyId(this.#current),
      key: this.#current,
      retiredAt: now,
      dropAt: now + keepMs,
    };
    this.#current = next;
    this.#retired = newestFirst([retired, ...this.#retired]);
    return retired;
  }

  /**
   * Takes another current key and set of retired keys (a reload from files): what is sealed from
   * now on goes to `current`.
   */
  replace(current: KeyObject, retired: readonly RetiredSealingKey[]): void {
    checkKey(current);
    for (const entry of retired) if (entry.key !== undefined) checkKey(entry.key);
    this.#current = current;
    this.#retired = newestFirst(retired);
  }

  /**
   * Opens `sealed` with the current key or any retired key still held. A body sealed to none of
   * them fails with {@link SealingKeyDroppedError} when a key dropped here was in use when it was
   * sealed, with `ESEAL_KEY` otherwise; every other failure is `open`'s.
   */
  open(sealed: SealedBody, options: Omit<OpenOptions, "privateKey">): Buffer {
    this.#drop();
    const held = this.#retired.flatMap((entry) => (entry.key === undefined ? [] : [entry.key]));
    try {
      return open(sealed, { ...options, privateKey: [this.#current, ...held] });
    } catch (error) {
      const dropped =
        error instanceof SealError && error.code === "ESEAL_KEY" && this.#droppedAt(sealed.time);
      if (!dropped) throw error;
      throw new SealingKeyDroppedError(
        `message ${sealed.id}, sealed at ${new Date(sealed.time).toISOString()}, was sealed to sealing key ` +
          `${dropped.id} of ${options.hub}, retired at ${new Date(dropped.retiredAt).toISOString()} and ` +
          `dropped at ${new Date(dropped.dropAt).toISOString()}: it can no longer be opened ` +
          "(keep retired keys longer to read such bodies)",
        dropped.id,
        { cause: error },
      );
    }
  }

  /** The dropped key most likely in use at `time`: the oldest retired after it (less the senders' lag). */
  #droppedAt(time: number): RetiredSealingKey | undefined {
    const candidates = this.#retired.filter((entry) => entry.retiredAt > time - SENDER_LAG_MS);
    const inUse = candidates[candidates.length - 1];
    return inUse?.key === undefined ? inUse : undefined;
  }

  /** Forgets the private keys past their `dropAt`; remembers at most MAX_RETIRED_SEALING_KEYS entries. */
  #drop(): void {
    const now = this.#now();
    if (this.#retired.some((entry) => entry.key !== undefined && entry.dropAt <= now))
      this.#retired = this.#retired.map((entry) =>
        entry.key !== undefined && entry.dropAt <= now ? { ...entry, key: undefined } : entry,
      );
  }
}

/** The keyring's retired keys as stored (JSON, mode 0600: it holds private keys). */
export interface RetiredSealingKeysFile {
  v: 1;
  keys: Array<{ id: string; pem: string | null; retiredAt: number; dropAt: number }>;
}

/** `retired` as a file's JSON: a dropped key keeps its id and dates, never its key. */
export function retiredKeysToJson(retired: readonly RetiredSealingKey[]): RetiredSealingKeysFile {
  return {
    v: 1,
    keys: retired.map((entry) => ({
      id: entry.id,
      pem: entry.key === undefined ? null : (entry.key.export({ format: "pem", type: "pkcs8" }) as string),
      retiredAt: entry.retiredAt,
      dropAt: entry.dropAt,
    })),
  };
}

/** The retired keys of a file's JSON (`SealError` naming what is wrong); dropped ones when past `dropAt`. */
export function retiredKeysFromJson(json: unknown, now = Date.now()): RetiredSealingKey[] {
  const file = json as Partial<RetiredSealingKeysFile> | null;
  if (typeof file !== "object" || file === null || file.v !== 1 || !Array.isArray(file.keys))
    throw new SealError('a retired sealing keys file is { "v": 1, "keys": [...] }');
  return file.keys.map((entry, index) => {
    const { id, pem, retiredAt, dropAt } = (entry ?? {}) as Partial<RetiredSealingKeysFile["keys"][number]>;
    if (
      typeof id !== "string" ||
      (pem !== null && typeof pem !== "string") ||
      typeof retiredAt !== "number" ||
      typeof dropAt !== "number"
    )
      throw new SealError(`retired sealing key ${index} needs id, pem (or null), retiredAt and dropAt`);
    let key: KeyObject | undefined;
    if (typeof pem === "string" && dropAt > now) {
      try {
        key = createPrivateKey(pem);
      } catch (error) {
        throw new SealError(`retired sealing key ${id} is not a PEM private key`, { cause: error });
      }
      checkKey(key);
      if (sealingKeyId(key) !== id)
        throw new SealError(`retired sealing key ${id} holds the key ${sealingKeyId(key)}`);
    }
    return { id, key, retiredAt, dropAt };
  });
}

function checkKey(key: KeyObject): void {
  if (key.type !== "private" || key.asymmetricKeyType !== "x25519")
    throw new SealError(
      `a sealing key is an X25519 private key, got ${key.type} ${key.asymmetricKeyType ?? "?"}`,
    );
}

function newestFirst(retired: readonly RetiredSealingKey[]): RetiredSealingKey[] {
  return [...retired].sort((a, b) => b.retiredAt - a.retiredAt).slice(0, MAX_RETIRED_SEALING_KEYS);
}
