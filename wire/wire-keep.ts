/**
 * What of a message stays as the bytes it came in (see `MessageDecoder.decode`): the values of
 * these top-level keys, or without `fields` the whole body. A file of its own because both the
 * channel table (which holds a channel's setting) and the decoder (which applies it) name it.
 */
export interface WireKeep {
  readonly fields?: readonly string[];
}
