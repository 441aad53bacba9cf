export {
  dialMemory,
  listenMemoryAt,
  MemoryAddressError,
  memoryName,
  type MemoryAcceptor,
} from "./memory-address-book.js";
