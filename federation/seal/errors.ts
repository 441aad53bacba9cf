import { BeamhubError } from "../../base/error.js";

/** A sealed message that cannot be opened: malformed, or not addressed to this hub (`ESEAL_INVALID`). */
export class SealError extends BeamhubError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? "ESEAL_INVALID", message, options);
  }
}

/** A signature that does not verify: tampered on the way, or not from the hub it names (`ESEAL_SIGNATURE`). */
export class SignatureError extends SealError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { ...options, code: "ESEAL_SIGNATURE" });
  }
}

/** A message seen before, or stamped too far from now to be checked for replay (`ESEAL_REPLAY`). */
export class ReplayError extends SealError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { ...options, code: "ESEAL_REPLAY" });
  }
}
