import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ReplayGuard } from "../../federation/seal/replay-guard.js";
import { open, seal, type SealedBody } from "../../federation/seal/seal.js";
import { createSealingKey, verifySealingKey } from "../../federation/seal/sealing-key.js";

/** A hub with its certified (identity) key pair and a sealing key vouched for by it. */
function hub(id: string) {
  const identity = generateKeyPairSync("ed25519");
  const sealing = createSealingKey(id, identity.privateKey);
  return { id, identity, sealing, sealKey: verifySealingKey(sealing.record, identity.publicKey) };
}

const site1 = hub("proxy1.broker");
const site2 = hub("proxy2.broker");
const site3 = hub("proxy3.broker");
const body = Buffer.from(JSON.stringify({ secret: "patient 42", list: [1, 2, 3] }));

function sealFromSite1(options: { context?: Uint8Array; now?: number } = {}): SealedBody {
  return seal(body, {
    from: site1.id,
    signingKey: site1.identity.privateKey,
    recipients: [
      { hub: site2.id, key: site2.sealKey },
      { hub: site3.id, key: site3.sealKey },
    ],
    ...options,
  });
}

function openAt(
  target: ReturnType<typeof hub>,
  sealed: SealedBody,
  extra: { replay?: ReplayGuard; context?: Uint8Array; now?: number } = {},
) {
  return open(sealed, {
    hub: target.id,
    privateKey: target.sealing.privateKey,
    senderKey: site1.identity.publicKey,
    ...extra,
  });
}

describe("sealed bodies: encrypted per recipient hub, signed by the sender's hub", () => {
  it("opens at every recipient and nowhere else, and carries no plaintext", () => {
    const sealed = sealFromSite1();
    expect(openAt(site2, sealed).equals(body)).toBe(true);
    expect(openAt(site3, sealed).equals(body)).toBe(true);
    expect(() =>
      open(sealed, {
        hub: site1.id,
        privateKey: site1.sealing.privateKey,
        senderKey: site1.identity.publicKey,
      }),
    ).toThrow(expect.objectContaining({ code: "ESEAL_NOT_RECIPIENT" }));
    const everything = Buffer.concat([sealed.epk, ...sealed.keys, sealed.nonce, sealed.data, sealed.sig]);
    expect(everything.includes(Buffer.from("patient 42"))).toBe(false);
    expect(sealed.data.length).toBe(body.length + 16);
  });

  it("turns any flipped byte into a signature failure, never into a different body", () => {
    const sealed = sealFromSite1();
    const mutations: Array<(copy: SealedBody) => void> = [
      (copy) => (copy.data[3]! ^= 1),
      (copy) => (copy.nonce[0]! ^= 1),
      (copy) => (copy.keys[1]![5]! ^= 1),
      (copy) => (copy.epk[31]! ^= 1),
      (copy) => (copy.sig[10]! ^= 1),
      (copy) => (copy.time += 1),
      (copy) => (copy.from = site2.id),
      (copy) => (copy.to = [site2.id, site1.id]),
      // The id is random base64url: pick a first character it surely does not have.
      (copy) => (copy.id = (copy.id.startsWith("x") ? "y" : "x") + copy.id.slice(1)),
    ];
    for (const mutate of mutations) {
      const copy = structuredClone(sealed);
      mutate(copy);
      expect(() => openAt(site2, copy)).toThrow(expect.objectContaining({ code: "ESEAL_SIGNATURE" }));
    }
  });

  it("binds the clear context: the same body under other metadata does not verify", () => {
    const sealed = sealFromSite1({ context: Buffer.from("metadata:a") });
    expect(openAt(site2, sealed, { context: Buffer.from("metadata:a") }).equals(body)).toBe(true);
    expect(() => openAt(site2, sealed, { context: Buffer.from("metadata:b") })).toThrow(
      expect.objectContaining({ code: "ESEAL_SIGNATURE" }),
    );
  });

  it("refuses a replay and a message stamped outside the window, with bounded memory", () => {
    const guard = new ReplayGuard({ window: 60_000, capacity: 3 });
    const sealed = sealFromSite1();
    openAt(site2, sealed, { replay: guard });
    expect(() => openAt(site2, sealed, { replay: guard })).toThrow(
      expect.objectContaining({ code: "ESEAL_REPLAY" }),
    );
    const old = sealFromSite1({ now: Date.now() - 120_000 });
    expect(() => openAt(site2, old, { replay: guard })).toThrow(/outside the replay window/);
    openAt(site2, sealFromSite1(), { replay: guard });
    openAt(site2, sealFromSite1(), { replay: guard });
    expect(() => openAt(site2, sealFromSite1(), { replay: guard })).toThrow(/full/);
    // Once their window has passed, ids are forgotten and room comes back.
    const later = Date.now() + 61_000;
    openAt(site2, sealFromSite1({ now: later }), { replay: guard, now: later });
    expect(guard.size).toBe(1);
  });

  it("refuses a sealing key record that its hub did not sign, or that expired; a rotated-away key is named", () => {
    const forged = { ...site2.sealing.record, key: site3.sealing.record.key };
    expect(() => verifySealingKey(forged, site2.identity.publicKey)).toThrow(
      expect.objectContaining({ code: "ESEAL_SIGNATURE" }),
    );
    expect(() =>
      verifySealingKey(site2.sealing.record, site2.identity.publicKey, Date.now() + 31 * 86_400_000),
    ).toThrow(expect.objectContaining({ code: "ESEAL_KEY_EXPIRED" }));
    const sealed = sealFromSite1();
    const rotated = createSealingKey(site2.id, site2.identity.privateKey);
    expect(() =>
      open(sealed, { hub: site2.id, privateKey: rotated.privateKey, senderKey: site1.identity.publicKey }),
    ).toThrow(expect.objectContaining({ code: "ESEAL_KEY" }));
    expect(() => openAt(site2, { ...sealed, v: 2 } as unknown as SealedBody)).toThrow(
      expect.objectContaining({ code: "ESEAL_INVALID" }),
    );
  });
});
