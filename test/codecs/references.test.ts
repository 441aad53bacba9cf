// The reference contract the hub relies on, checked for every codec: Refs travel as
// references, Attachables need hooks, hooks are applied at any depth and do not leak between
// calls, and errors leave the codec usable.
import { describe, expect, it } from "vitest";
import { Attachable, builtinCodecs, CodecError, EncodeError, Ref } from "../../codecs/index.js";
import type { Codec, RefHooks, RefKind } from "../../codecs/index.js";
import { corpusProtobuf, normalize } from "./corpus.js";

/** Stand-ins for the hub's Channel, ByteStream and FileDescriptor. */
class FakeChannel extends Attachable {
  readonly refKind = "channel";
  constructor(readonly name: string) {
    super();
  }
}
class FakeStream extends Attachable {
  readonly refKind = "stream";
}
class FakeFd extends Attachable {
  readonly refKind = "fd";
}
/** A subclass of a subclass must be found too (codec libraries match classes with instanceof). */
class SpecialChannel extends FakeChannel {}

/** A session-like hooks object: numbers attachments as they are met, resolves them back. */
function session(): RefHooks & { sent: Attachable[] } {
  const sent: Attachable[] = [];
  return {
    sent,
    toRef(value: Attachable): Ref {
      sent.push(value);
      return new Ref(value.refKind, sent.length);
    },
    fromRef(ref: Ref): unknown {
      return { live: `${ref.kind}:${ref.id}` };
    },
  };
}

/** A message with attachments at several depths, shaped so that every codec can carry it. */
function messageFor(codec: Codec, values: { reply: unknown; stream: unknown; fd: unknown }): unknown {
  if (codec.name === "kv") return { reply: [values.reply], streams: [values.stream], fd: [values.fd] };
  if (codec.name === "protobuf") {
    return { reply: values.reply, children: [{ streams: [values.stream], children: [{ fd: values.fd }] }] };
  }
  return { reply: values.reply, nested: { list: [values.stream, { deeper: values.fd }] } };
}

const codecs = [...builtinCodecs, corpusProtobuf];

describe.each(codecs.map((codec) => [codec.name, codec] as const))("%s references", (_name, codec) => {
  it("writes a Ref without hooks and decodes it as a Ref", () => {
    const message = messageFor(codec, {
      reply: new Ref("channel", 1),
      stream: new Ref("stream", 2),
      fd: new Ref("fd", 3),
    });
    expect(normalize(codec.decode(codec.encode(message)))).toStrictEqual(normalize(message));
  });

  it("refuses an Attachable without hooks, naming its kind", () => {
    for (const [value, kind] of [
      [new FakeChannel("a"), "channel"],
      [new FakeStream(), "stream"],
      [new FakeFd(), "fd"],
    ] as [Attachable, RefKind][]) {
      const message = messageFor(codec, {
        reply: new Ref("channel", 1),
        stream: new Ref("stream", 2),
        fd: value,
      });
      expect(() => codec.encode(message)).toThrow(EncodeError);
      expect(() => codec.encode(message)).toThrow(new RegExp(`cannot encode a ${kind}`));
    }
    // The failed call left nothing behind.
    const plain = messageFor(codec, {
      reply: new Ref("channel", 5),
      stream: new Ref("stream", 6),
      fd: new Ref("fd", 7),
    });
    expect(normalize(codec.decode(codec.encode(plain)))).toStrictEqual(normalize(plain));
  });

  it("passes attachments through the hooks, at any depth, both ways", () => {
    const hooks = session();
    const channel = new SpecialChannel("reply");
    const stream = new FakeStream();
    const fd = new FakeFd();
    const bytes = codec.encode(messageFor(codec, { reply: channel, stream, fd }), hooks);
    expect(hooks.sent).toEqual([channel, stream, fd].filter((value) => hooks.sent.includes(value)));
    expect(hooks.sent).toHaveLength(3);
    const ids = new Map(hooks.sent.map((value, i) => [value, i + 1]));
    const decoded = codec.decode(bytes, hooks);
    expect(normalize(decoded)).toStrictEqual(
      messageFor(codec, {
        reply: { live: `channel:${ids.get(channel)}` },
        stream: { live: `stream:${ids.get(stream)}` },
        fd: { live: `fd:${ids.get(fd)}` },
      }),
    );
    // Hooks apply only to the call they were given to.
    // (Ref#toJSON writes the JSON form, so a Ref shows up as {"$channel": id}.)
    const again = JSON.stringify(codec.decode(bytes));
    expect(again).toContain(`{"$channel":${ids.get(channel)}}`);
    expect(again).not.toContain("live");
  });

  it("refuses hooks that return something other than a Ref of the right kind", () => {
    const wrong: RefHooks = { toRef: () => new Ref("stream", 1), fromRef: (ref) => ref };
    const message = messageFor(codec, {
      reply: new FakeChannel("x"),
      stream: new Ref("stream", 2),
      fd: new Ref("fd", 3),
    });
    expect(() => codec.encode(message, wrong)).toThrow(EncodeError);
  });

  it("lets errors thrown by hooks through unchanged when they are beamhub errors", () => {
    const closed = new CodecError("ECLOSED", "channel closed");
    const hooks: RefHooks = {
      toRef: () => {
        throw closed;
      },
      fromRef: (ref) => ref,
    };
    const message = messageFor(codec, {
      reply: new FakeChannel("x"),
      stream: new Ref("stream", 2),
      fd: new Ref("fd", 3),
    });
    expect(() => codec.encode(message, hooks)).toThrow(closed);
  });
});

describe("Ref", () => {
  it("validates its kind and id", () => {
    expect(() => new Ref("socket" as RefKind, 1)).toThrow(CodecError);
    expect(() => new Ref("channel", -1)).toThrow(/uint32/);
    expect(() => new Ref("channel", 2 ** 32)).toThrow(/uint32/);
    expect(() => new Ref("channel", 1.5)).toThrow(/uint32/);
    expect(new Ref("fd", 2 ** 32 - 1).id).toBe(4294967295);
  });

  it("compares, prints and serializes", () => {
    expect(new Ref("stream", 3).equals(new Ref("stream", 3))).toBe(true);
    expect(new Ref("stream", 3).equals(new Ref("fd", 3))).toBe(false);
    expect(String(new Ref("stream", 3))).toBe("stream#3");
    expect(JSON.stringify({ r: new Ref("fd", 9) })).toBe('{"r":{"$fd":9}}');
  });
});
