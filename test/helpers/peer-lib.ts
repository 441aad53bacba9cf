/**
 * What the peer scripts of `spawnPeer` import, as one prebuilt bundle (test/helpers/programs.ts):
 * one bundle, so that the classes the scripts check errors against are the ones the transport
 * throws, and no script waits for tsx to transform the source tree.
 */
export { connectUnix } from "../../hub/remote/unix.js";
export { FileDescriptor } from "../../model/file-descriptor.js";
export * from "../../model/errors.js";
