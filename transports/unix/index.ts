export {
  connectUnix,
  listenUnix,
  type UnixConnectOptions,
  type UnixListener,
  type UnixListenOptions,
} from "./unix-transport.js";
export { fdPassingAvailable, FdUnavailableError } from "./fd/index.js";
export { acceptDirect, connectDirect, type DirectService } from "./direct.js";
