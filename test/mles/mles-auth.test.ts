// Mles auth (src/auth.rs of mles-rs): SipHash-2-4 with keys (0, 0) over uid‖channel[‖key],
// hex as Rust's `{:x}`, read back with `u64::from_str_radix(_, 16).unwrap_or(0)`.
import SipHash from "siphash";
import { describe, expect, it } from "vitest";
import { checkMlesAuth, mlesAuth, mlesAuthHash, parseMlesAuth } from "../../mles/auth.js";
import { sipHash24 } from "./siphash-reference.js";

const PAPER_KEY = Uint8Array.from({ length: 16 }, (_, i) => i);
const ZERO_KEY = new Uint8Array(16);
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe("SipHash-2-4", () => {
  it("the reference meets the paper's vectors (key 00..0f)", () => {
    expect(sipHash24(PAPER_KEY, new Uint8Array(0))).toBe(0x726fdb47dd0e0e31n);
    expect(
      sipHash24(
        PAPER_KEY,
        Uint8Array.from({ length: 15 }, (_, i) => i),
      ),
    ).toBe(0xa129ca6149be45e5n);
  });

  it("the siphash package agrees with the reference for every length 0..64", () => {
    const words = new Uint32Array(PAPER_KEY.buffer.slice(0));
    for (let length = 0; length <= 64; length++) {
      const message = Uint8Array.from({ length }, (_, i) => (i * 37 + length) & 0xff);
      const { h, l } = SipHash.hash(words, message);
      const packaged = (BigInt(h >>> 0) << 32n) | BigInt(l >>> 0);
      expect(packaged, `length ${length}`).toBe(sipHash24(PAPER_KEY, message));
    }
  });
});

describe("Mles auth", () => {
  it("is SipHash-2-4 (keys 0, 0) of uid‖channel‖key, with no separators", () => {
    for (const [uid, channel, key] of [
      ["alice", "example", undefined],
      ["alice", "example", "secret"],
      ["user1", "chan1", "secret"],
      ["a", "", undefined],
      ["mles-client-with-a-long-uid-0123456789", "a/b.c-d", "k".repeat(100)],
    ] as const) {
      const expected = sipHash24(ZERO_KEY, bytes(uid + channel + (key ?? "")));
      expect(mlesAuthHash(uid, channel, key)).toBe(expected);
      expect(mlesAuth(uid, channel, key)).toBe(expected.toString(16));
    }
    // Only the concatenation counts: moving a byte between uid and channel gives the same hash.
    expect(mlesAuth("alic", "eexample")).toBe(mlesAuth("alice", "example"));
  });

  it("pins vectors computed with the reference", () => {
    expect(mlesAuth("alice", "example")).toBe(sipHash24(ZERO_KEY, bytes("aliceexample")).toString(16));
    expect(mlesAuth("alice", "example", "secret")).toBe(
      sipHash24(ZERO_KEY, bytes("aliceexamplesecret")).toString(16),
    );
    expect(mlesAuth("alice", "example")).toBe(PINNED.plain);
    expect(mlesAuth("alice", "example", "secret")).toBe(PINNED.keyed);
  });

  it("reads auth as from_str_radix: either case, optional +, no 0x, over 64 bits or junk is 0", () => {
    expect(parseMlesAuth("ff")).toBe(255n);
    expect(parseMlesAuth("FF")).toBe(255n);
    expect(parseMlesAuth("+ff")).toBe(255n);
    expect(parseMlesAuth("00ff")).toBe(255n);
    expect(parseMlesAuth("ffffffffffffffff")).toBe((1n << 64n) - 1n);
    expect(parseMlesAuth("1ffffffffffffffff")).toBe(0n);
    expect(parseMlesAuth("0xff")).toBe(0n);
    expect(parseMlesAuth("")).toBe(0n);
    expect(parseMlesAuth("+")).toBe(0n);
    expect(parseMlesAuth(" ff")).toBe(0n);
    expect(parseMlesAuth("-1")).toBe(0n);
  });

  it("with a key: auth required and must match; without: optional, checked when present", () => {
    const good = mlesAuth("alice", "example", "secret");
    expect(checkMlesAuth("alice", "example", good, "secret")).toBeUndefined();
    expect(checkMlesAuth("alice", "example", good.toUpperCase(), "secret")).toBeUndefined();
    expect(checkMlesAuth("alice", "example", `000${good}`, "secret")).toBeUndefined();
    expect(checkMlesAuth("alice", "example", undefined, "secret")).toMatch(/requires auth/);
    expect(checkMlesAuth("alice", "example", mlesAuth("alice", "example"), "secret")).toMatch(
      /does not match/,
    );
    expect(checkMlesAuth("alice", "other", good, "secret")).toMatch(/does not match/);
    expect(checkMlesAuth("alice", "example", "zz", "secret")).toMatch(/does not match/);
    expect(checkMlesAuth("alice", "example", undefined, undefined)).toBeUndefined();
    expect(checkMlesAuth("alice", "example", mlesAuth("alice", "example"), undefined)).toBeUndefined();
    expect(checkMlesAuth("alice", "example", good, undefined)).toMatch(/no key/);
  });
});

/** Computed once with `sipHash24` above and kept, so a change in either side shows. */
const PINNED = { plain: "9b3b95527f7c2d80", keyed: "afa46b8689dae7a5" };
