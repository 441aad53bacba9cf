export { connectMemory, listenMemory, MemoryAddressError } from "./memory-transport.js";
