/**
 * The in-process transport: an address book of acceptors by name (`memory://<name>`). Nothing
 * is serialized: what an acceptor hands a dialer is an in-process session, which carries data,
 * channels, byte streams and file descriptors by reference, so a call costs a function call and
 * a promise. The transport does not know what a session is; the hub puts itself in the book.
 * @module
 */
import { BeamhubError } from "../../base/error.js";

/** Takes dialers at a memory address: each `accept` opens a new in-process session. */
export interface MemoryAcceptor<Options = never, Session = unknown> {
  /** Opens a session for a dialer. */
  accept(options: Options): Session;
  /** Whether it accepts no more (its owner closed): its address is then free to take. */
  readonly isClosed: boolean;
}

/** No acceptor listens at that memory address, or it is taken. */
export class MemoryAddressError extends BeamhubError {
  constructor(message: string) {
    super("EADDRESS", message);
  }
}

interface Entry {
  readonly owner: object;
  readonly acceptor: MemoryAcceptor<never>;
}

const book = new Map<string, Entry>();

/** The name in a memory address: `memory://name`, `memory:name`, `memory:` (default) or the name itself. */
export function memoryName(address: string): string {
  const name = address.replace(/^memory:(\/\/)?/, "");
  return name === "" ? "default" : name;
}

/**
 * Puts `acceptor` at `memory://<name>` for `owner` (listening again with the same owner is a
 * no-op); returns the function that takes it out.
 * @throws {MemoryAddressError} when another owner's open acceptor holds the name.
 */
export function listenMemoryAt<Options, Session>(
  name: string,
  owner: object,
  acceptor: MemoryAcceptor<Options, Session>,
): () => void {
  const existing = book.get(name);
  if (existing !== undefined && existing.owner !== owner && !existing.acceptor.isClosed) {
    throw new MemoryAddressError(`memory://${name} is already taken by another hub`);
  }
  const entry: Entry = { owner, acceptor: acceptor as MemoryAcceptor<never> };
  book.set(name, entry);
  return () => {
    if (book.get(name)?.owner === owner) book.delete(name);
  };
}

/**
 * The open acceptor at `memory://<name>`. The caller names the session type it expects: the
 * book keeps acceptors of any kind, and only their owners know what they open.
 * @throws {MemoryAddressError} when nobody (open) listens there.
 */
export function dialMemory<Options, Session>(name: string): MemoryAcceptor<Options, Session> {
  const entry = book.get(name);
  if (entry === undefined || entry.acceptor.isClosed) {
    throw new MemoryAddressError(`no hub listens at memory://${name}`);
  }
  return entry.acceptor as unknown as MemoryAcceptor<Options, Session>;
}
