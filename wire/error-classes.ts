/**
 * Every error class a session can end a call, channel or stream with, in one module: the message
 * model's (which travel to the peer as themselves) and the session protocol's own (which describe
 * this end's connection and never travel). The package's entries re-export this module whole, so
 * a class added to model/errors.ts or wire/errors.ts is exported without another list to keep.
 * @module
 */
export * from "../model/errors.js";
export * from "./errors.js";
