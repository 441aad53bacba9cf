// A tiny stand-in for Node's `Buffer`, used only inside the browser bundle (browser/build.ts
// injects it into beamhub's own source files). It covers exactly what the core uses:
// `allocUnsafe` (wire/frame.ts), `from`, `concat`, `isBuffer` and `toString` (codecs/json.ts).
// Values are plain Uint8Arrays plus a `toString(encoding)`, so code that takes them as views
// keeps working.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

type Encoding = "utf8" | "utf-8" | "base64" | "base64url" | "latin1" | "binary" | "hex";

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  let normal = text
    .replace(/-/g, "+")
    .replace(/_/g, "/")
    .replace(/[^A-Za-z0-9+/]/g, "");
  while (normal.length % 4 !== 0) normal += "=";
  const binary = atob(normal);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** A buffer: a Uint8Array whose `toString` takes an encoding. */
class BrowserBuffer extends Uint8Array {
  override toString(encoding: Encoding = "utf8"): string {
    const view = new Uint8Array(this.buffer, this.byteOffset, this.byteLength);
    if (encoding === "base64") return toBase64(view);
    if (encoding === "base64url")
      return toBase64(view).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    if (encoding === "hex") return Array.from(view, (byte) => byte.toString(16).padStart(2, "0")).join("");
    return decoder.decode(view);
  }
}

function wrap(bytes: Uint8Array): BrowserBuffer {
  return new BrowserBuffer(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
}

/** The static side of Node's `Buffer`, as far as beamhub uses it. */
export const Buffer = {
  allocUnsafe(size: number): BrowserBuffer {
    return new BrowserBuffer(size);
  },
  alloc(size: number): BrowserBuffer {
    return new BrowserBuffer(size);
  },
  isBuffer(value: unknown): value is BrowserBuffer {
    return value instanceof BrowserBuffer;
  },
  byteLength(text: string): number {
    return encoder.encode(text).byteLength;
  },
  from(
    value: string | ArrayBufferLike | ArrayLike<number>,
    encodingOrOffset?: Encoding | number,
    length?: number,
  ): BrowserBuffer {
    if (typeof value === "string") {
      const encoding = (encodingOrOffset as Encoding | undefined) ?? "utf8";
      return wrap(
        encoding === "base64" || encoding === "base64url" ? fromBase64(value) : encoder.encode(value),
      );
    }
    if (value instanceof ArrayBuffer) {
      const offset = (encodingOrOffset as number | undefined) ?? 0;
      return new BrowserBuffer(value, offset, length ?? value.byteLength - offset);
    }
    const source = value as ArrayLike<number>;
    const copy = new BrowserBuffer(source.length);
    copy.set(source);
    return copy;
  },
  concat(chunks: readonly Uint8Array[], total?: number): BrowserBuffer {
    const size = total ?? chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
    const joined = new BrowserBuffer(size);
    let offset = 0;
    for (const chunk of chunks) {
      const take = Math.min(chunk.byteLength, size - offset);
      joined.set(take === chunk.byteLength ? chunk : chunk.subarray(0, take), offset);
      offset += take;
      if (offset === size) break;
    }
    return joined;
  },
};
