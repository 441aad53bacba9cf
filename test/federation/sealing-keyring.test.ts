// A site's sealing keys across rotations: what was sealed before a rotation still opens after
// it, until the retired key is dropped; then the failure names the key. Also the files that
// `serve` keeps them in, and `beamhub enroll --rotate-seal` as a real process.
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seal } from "../../federation/seal/seal.js";
import {
  retiredKeysFromJson,
  retiredKeysToJson,
  sealingKeyId,
  SealingKeyring,
} from "../../federation/seal/sealing-keyring.js";
import { loadSealingKeyring, reloadSealingKeyring, SEALING_KEY_FILES } from "../../cli/sealing-key-files.js";
import { beamhub } from "../cli/helpers.js";

const SITE = "proxy2.broker";
const sender = generateKeyPairSync("ed25519");
const DAY = 86_400_000;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-sealing-keyring-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A body from proxy1 sealed to whatever key `keyring` hands out now. */
function sealTo(keyring: SealingKeyring, text: string, now: number) {
  return seal(Buffer.from(text), {
    from: "proxy1.broker",
    signingKey: sender.privateKey,
    recipients: [{ hub: SITE, key: createPublicKey(keyring.current) }],
    now,
  });
}

function openWith(keyring: SealingKeyring, sealed: ReturnType<typeof sealTo>, now: number): string {
  return keyring.open(sealed, { hub: SITE, senderKey: sender.publicKey, now }).toString("utf8");
}

describe("the sealing keyring", () => {
  it("opens bodies sealed before a rotation, and names the key once it is dropped", () => {
    let now = Date.UTC(2026, 0, 1);
    const keyring = new SealingKeyring(generateKeyPairSync("x25519").privateKey, [], () => now);
    const first = sealingKeyId(keyring.current);
    const before = sealTo(keyring, "sealed to the first key", now);

    now += DAY;
    const retired = keyring.rotate(undefined, 7 * DAY);
    expect(retired).toMatchObject({ id: first, retiredAt: now, dropAt: now + 7 * DAY });
    expect(sealingKeyId(keyring.current)).not.toBe(first);
    const after = sealTo(keyring, "sealed to the second key", now);
    // Both open: the old body with the retired key, the new one with the current key.
    expect(openWith(keyring, before, now)).toBe("sealed to the first key");
    expect(openWith(keyring, after, now)).toBe("sealed to the second key");

    // A second rotation keeps both retired keys.
    now += DAY;
    keyring.rotate(undefined, 30 * DAY);
    expect(openWith(keyring, before, now)).toBe("sealed to the first key");
    expect(openWith(keyring, after, now)).toBe("sealed to the second key");

    // Past its keep time the first key is dropped: its body fails, typed, naming the key.
    now += 7 * DAY;
    expect(keyring.retired().map((entry) => [entry.id, entry.key === undefined])).toEqual([
      [expect.any(String), false],
      [first, true],
    ]);
    let failure: unknown;
    try {
      openWith(keyring, before, now);
    } catch (error) {
      failure = error;
    }
    expect(failure).toMatchObject({ code: "ESEAL_KEY_DROPPED", keyId: first });
    expect((failure as Error).message).toContain(`sealing key ${first} of ${SITE}`);
    expect(openWith(keyring, after, now)).toBe("sealed to the second key");
  });

  it("keeps a body for a key it never held apart from one for a dropped key", () => {
    const keyring = new SealingKeyring(generateKeyPairSync("x25519").privateKey);
    const stranger = new SealingKeyring(generateKeyPairSync("x25519").privateKey);
    const sealed = sealTo(stranger, "not for this keyring", Date.now());
    expect(() => openWith(keyring, sealed, Date.now())).toThrow(
      expect.objectContaining({ code: "ESEAL_KEY" }),
    );
  });

  it("stores retired keys as JSON without the dropped ones' keys, and refuses a file that lies", () => {
    const now = Date.now();
    const held = generateKeyPairSync("x25519").privateKey;
    const json = retiredKeysToJson([
      { id: sealingKeyId(held), key: held, retiredAt: now - DAY, dropAt: now + DAY },
      { id: "00000000deadbeef", key: undefined, retiredAt: now - 9 * DAY, dropAt: now - DAY },
    ]);
    expect(json.keys[1]!.pem).toBeNull();
    const back = retiredKeysFromJson(JSON.parse(JSON.stringify(json)), now);
    expect(back[0]!.key?.equals(held)).toBe(true);
    expect(back[1]!.key).toBeUndefined();
    // Read after its dropAt, a key still written down is not taken.
    expect(retiredKeysFromJson(json, now + 2 * DAY)[0]!.key).toBeUndefined();
    const forged = { ...json, keys: [{ ...json.keys[0]!, id: "0123456789abcdef" }] };
    expect(() => retiredKeysFromJson(forged, now)).toThrow(
      expect.objectContaining({ code: "ESEAL_INVALID" }),
    );
    expect(() => retiredKeysFromJson({ v: 2, keys: [] })).toThrow(/"v": 1/);
    const ed = generateKeyPairSync("ed25519").privateKey;
    expect(() => new SealingKeyring(ed)).toThrow(expect.objectContaining({ code: "ESEAL_INVALID" }));
  });
});

describe("the sealing keys in a federation directory", () => {
  it("rotates with beamhub enroll --rotate-seal; serve's keyring opens old bodies after SIGHUP's reload", async () => {
    const site = join(dir, "site");
    await mkdir(site);
    // The first start makes seal.key (0600).
    const keyring = loadSealingKeyring(site);
    expect((await stat(join(site, SEALING_KEY_FILES.current))).mode & 0o777).toBe(0o600);
    const first = sealingKeyId(keyring.current);
    const before = sealTo(keyring, "stored before the rotation", Date.now());

    const rotated = await beamhub(["enroll", "--rotate-seal", "--keep", "2d", "--dir", site]);
    expect(rotated.stderr).toBe("");
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toContain(`${first} kept in`);
    expect((await stat(join(site, SEALING_KEY_FILES.retired))).mode & 0o777).toBe(0o600);

    // The running site takes the files again (SIGHUP): the new key is handed out, the old one kept.
    expect(reloadSealingKeyring(site, keyring)).toMatch(new RegExp(`sealing key ${first} retired`));
    expect(sealingKeyId(keyring.current)).not.toBe(first);
    expect(keyring.retired()[0]).toMatchObject({ id: first });
    const dropAt = keyring.retired()[0]!.dropAt;
    expect(dropAt - Date.now()).toBeGreaterThan(DAY);
    expect(openWith(keyring, before, Date.now())).toBe("stored before the rotation");
    // And so does a restart.
    expect(openWith(loadSealingKeyring(site), before, Date.now())).toBe("stored before the rotation");
    expect(reloadSealingKeyring(site, keyring)).toBeUndefined();

    // seal.key replaced by hand: the key it held is not lost but retired (default keep time).
    const handMade = generateKeyPairSync("x25519").privateKey;
    const second = sealingKeyId(keyring.current);
    const sealedToSecond = sealTo(keyring, "sealed to the second key", Date.now());
    await writeFile(
      join(site, SEALING_KEY_FILES.current),
      handMade.export({ format: "pem", type: "pkcs8" }) as string,
    );
    expect(reloadSealingKeyring(site, keyring)).toContain(`sealing key ${second} retired`);
    const onDisk = JSON.parse(await readFile(join(site, SEALING_KEY_FILES.retired), "utf8"));
    expect(onDisk.keys.map((entry: { id: string }) => entry.id).sort()).toEqual([first, second].sort());
    expect(openWith(keyring, sealedToSecond, Date.now())).toBe("sealed to the second key");
    expect(
      createPrivateKey(await readFile(join(site, SEALING_KEY_FILES.current))).equals(keyring.current),
    ).toBe(true);

    // Usage mistakes are told, and no key is touched.
    const stray = await beamhub(["enroll", "--rotate-seal", "--keep", "soon", "--dir", site]);
    expect(stray.code).not.toBe(0);
    expect(stray.stderr).toMatch(/--keep: "soon" is not a duration/);
    const none = await beamhub(["enroll", "--rotate-seal", "--dir", join(dir, "nowhere")]);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/seal\.key does not exist/);
  });
});
