/**
 * The root of every error beamhub throws. Each layer extends it with its own classes, so
 * `instanceof BeamhubError` catches anything of ours while `code` names the exact failure in a
 * form that survives the wire (a remote peer sees the same code).
 */
export class BeamhubError extends Error {
  /** A stable, machine-readable name of the failure, e.g. `ESERVICE_NOT_FOUND`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}
