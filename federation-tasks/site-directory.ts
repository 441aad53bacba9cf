import { createPublicKey, type KeyObject } from "node:crypto";
import type { HubClient } from "../hub/types.js";
import { KEYS_SERVICE } from "../federation/names.js";
import type { SiteKeys } from "../federation/site.js";
import type { SealRecipient } from "../federation/seal/seal.js";
import { verifySealingKey, type SealingKeyRecord } from "../federation/seal/sealing-key.js";
import { UnreachableRecipientsError } from "../tasks/errors.js";
import { BrokerUnavailableError, UntrustedMessageError } from "./errors.js";

/** What a site hands out through the broker (`federation.keys.<hub>`). */
interface KeysEntry {
  chain: string;
  record: SealingKeyRecord;
}

/** Options of {@link SiteDirectory}. */
export interface SiteDirectoryOptions {
  /** How long a site's keys are used before they are asked for again, in ms (default 30 000). */
  cacheMs?: number;
  /** Bound on one question to the broker, in ms (default 10 000). */
  timeoutMs?: number;
}

/**
 * The other sites' keys as this site sees them: asked of the broker (which passes the question
 * on to the site, or answers from memory while it is away), and never believed without checking
 * — every chain is verified against the authority's root and the revocation lists *at each
 * use*, so a revocation applies at once, and a sealing key must be signed by its site's
 * certified key. At most one cached entry per site (a federation has few sites).
 */
export class SiteDirectory {
  readonly #broker: HubClient;
  readonly #keys: SiteKeys;
  readonly #cacheMs: number;
  readonly #timeoutMs: number;
  readonly #cache = new Map<string, { entry: KeysEntry; at: number }>();

  constructor(broker: HubClient, keys: SiteKeys, options: SiteDirectoryOptions = {}) {
    this.#broker = broker;
    this.#keys = keys;
    this.#cacheMs = options.cacheMs ?? 30_000;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  /**
   * The verified sealing keys of `hubs`. Every hub without a valid certificate or sealing key
   * (unknown, expired, revoked, forged) is named in one `UnreachableRecipientsError` (424, as
   * Samply answers a recipient the broker has no certificate of).
   */
  async recipients(hubs: readonly string[]): Promise<SealRecipient[]> {
    const found: SealRecipient[] = [];
    const unreachable: string[] = [];
    await Promise.all(
      hubs.map(async (hub) => {
        try {
          found.push({ hub, key: await this.#sealingKey(hub) });
        } catch (error) {
          if (error instanceof BrokerUnavailableError) throw error;
          unreachable.push(hub);
        }
      }),
    );
    if (unreachable.length > 0) throw new UnreachableRecipientsError(unreachable.sort());
    return found;
  }

  /**
   * The Ed25519 key that signs for `hub`, from its chain verified now; `UntrustedMessageError` if
   * none. `fresh`: ask the broker even if a cached chain is young (the hub may have renewed it).
   */
  async senderKey(hub: string, fresh = false): Promise<KeyObject> {
    const chain = hub === this.#keys.self.id ? this.#keys.self.chain : (await this.#entry(hub, fresh))?.chain;
    if (chain === undefined) throw new UntrustedMessageError(`no certificate of ${hub} is known`);
    try {
      return this.#keys.trust.verify(chain, { hub }).publicKey;
    } catch (error) {
      throw new UntrustedMessageError(`the sender ${hub} is not trusted: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async #sealingKey(hub: string): Promise<KeyObject> {
    if (hub === this.#keys.self.id) {
      this.#keys.trust.verify(this.#keys.self.chain, { hub });
      return createPublicKey(this.#keys.sealingKey);
    }
    const entry = await this.#entry(hub);
    if (entry === undefined) throw new UntrustedMessageError(`no keys of ${hub} are known`);
    if (entry.record?.hub !== hub)
      throw new UntrustedMessageError(`the sealing key handed out for ${hub} is another hub's`);
    const { publicKey } = this.#keys.trust.verify(entry.chain, { hub });
    return verifySealingKey(entry.record, publicKey);
  }

  async #entry(hub: string, fresh = false): Promise<KeysEntry | undefined> {
    const cached = this.#cache.get(hub);
    if (!fresh && cached !== undefined && Date.now() - cached.at < this.#cacheMs) return cached.entry;
    let entry: unknown;
    try {
      entry = await this.#broker.call(KEYS_SERVICE, { hub }, { timeout: this.#timeoutMs });
    } catch (error) {
      if (cached !== undefined) return cached.entry;
      throw new BrokerUnavailableError(
        `the broker did not answer for the keys of ${hub}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    if (typeof entry !== "object" || entry === null || typeof (entry as KeysEntry).chain !== "string")
      return undefined;
    this.#cache.set(hub, { entry: entry as KeysEntry, at: Date.now() });
    return entry as KeysEntry;
  }
}
