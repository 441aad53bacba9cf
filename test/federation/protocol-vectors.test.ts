// PROTOCOL.md's "Federation" section, checked against the code: its ```federation-vector blocks
// (a tunnel record, the tunnel's keys, a sealed body) and its table of `federation.*` names.
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sealedFromText } from "../../federation-tasks/sealed-text.js";
import { lengthPrefixed } from "../../federation/length-prefixed.js";
import * as names from "../../federation/names.js";
import { open } from "../../federation/seal/seal.js";
import { tunnelCiphers } from "../../federation/tunnel/handshake.js";
import { RecordCipher } from "../../federation/tunnel/record-cipher.js";
import { blocksOf, sectionOf } from "../wire/protocol-doc.js";

const vectors = new Map(blocksOf("federation-vector").map((block) => [block.get("what")!, block]));

function field(what: string, name: string): string {
  const value = vectors.get(what)?.get(name);
  if (value === undefined) throw new Error(`PROTOCOL.md: no ${name} in the "${what}" vector`);
  return value;
}

/** An X25519 or Ed25519 private key from its 32 raw bytes (PKCS#8 with a fixed prefix). */
function privateKey(kind: "x25519" | "ed25519", hex: string): KeyObject {
  const prefix = kind === "x25519" ? "302e020100300506032b656e04220420" : "302e020100300506032b657004220420";
  return createPrivateKey({ key: Buffer.from(prefix + hex, "hex"), format: "der", type: "pkcs8" });
}

describe('PROTOCOL.md "Federation"', () => {
  it("has the three vectors", () => {
    expect([...vectors.keys()].sort()).toEqual(["record", "sealed body", "tunnel keys"]);
  });

  it("length-prefixes fields as shown", () => {
    expect(sectionOf("Federation")).toContain("`00000002 6162 00000000`");
    expect(lengthPrefixed(["ab", ""]).toString("hex")).toBe("00000002616200000000");
  });

  it("seals tunnel records with the sequence number as nonce", () => {
    const cipher = new RecordCipher(Buffer.from(field("record", "key"), "hex"));
    const plaintext = Buffer.from(field("record", "plaintext"));
    expect(cipher.seal(plaintext).toString("hex")).toBe(field("record", "record0"));
    expect(cipher.seal(plaintext).toString("hex")).toBe(field("record", "record1"));
    // The receiving side opens them in order, and refuses them out of order.
    const receiver = new RecordCipher(Buffer.from(field("record", "key"), "hex"));
    expect(() => receiver.open(Buffer.from(field("record", "record1"), "hex"))).toThrow(/authentication/);
  });

  it("derives the tunnel's keys from the ephemeral secret and both hellos", () => {
    const initiator = privateKey("x25519", field("tunnel keys", "initiatorEphemeral"));
    const responder = privateKey("x25519", field("tunnel keys", "responderEphemeral"));
    const hellos = [
      Buffer.from(field("tunnel keys", "initiatorHello")),
      Buffer.from(field("tunnel keys", "responderHello")),
    ] as const;
    const a = tunnelCiphers("initiator", initiator, createPublicKey(responder), ...hellos);
    const b = tunnelCiphers("responder", responder, createPublicKey(initiator), ...hellos);
    const ping = a.send.seal(Buffer.from(field("tunnel keys", "initiatorRecord0")));
    expect(ping.toString("hex")).toBe(field("tunnel keys", "initiatorRecord0Sealed"));
    expect(b.receive.open(ping).toString()).toBe(field("tunnel keys", "initiatorRecord0"));
    const pong = b.send.seal(Buffer.from(field("tunnel keys", "responderRecord0")));
    expect(pong.toString("hex")).toBe(field("tunnel keys", "responderRecord0Sealed"));
  });

  it("opens the sealed body, and refuses it with one byte changed", () => {
    const sealed = sealedFromText(field("sealed body", "sealed"));
    const options = {
      hub: field("sealed body", "recipient"),
      privateKey: privateKey("x25519", field("sealed body", "recipientSealingKey")),
      senderKey: createPublicKey({
        key: Buffer.from("302a300506032b6570032100" + field("sealed body", "senderPublicKey"), "hex"),
        format: "der",
        type: "spki",
      }),
      context: Buffer.from(field("sealed body", "context"), "hex"),
    };
    expect(open(sealed, options).toString()).toBe(field("sealed body", "plaintext"));
    const altered = {
      ...sealed,
      data: Uint8Array.from(sealed.data, (byte, index) => (index === 0 ? byte ^ 1 : byte)),
    };
    expect(() => open(altered, options)).toThrow(expect.objectContaining({ code: "ESEAL_SIGNATURE" }));
    expect(() => open(sealed, { ...options, context: Buffer.from("other") })).toThrow(
      expect.objectContaining({ code: "ESEAL_SIGNATURE" }),
    );
  });

  it("names every federation.* service the code has", () => {
    const section = sectionOf("Federation");
    for (const name of [
      names.TUNNEL_SERVICE,
      names.SITES_SERVICE,
      names.KEYS_SERVICE,
      names.CRL_SERVICE,
      names.TASKS_SERVICE,
    ])
      expect(section).toContain(`| \`${name}\``);
    expect(section).toContain(`| \`${names.siteService("<hub id>")}\``);
    expect(section).toContain(`| \`${names.keysService("<hub id>")}\``);
  });
});
