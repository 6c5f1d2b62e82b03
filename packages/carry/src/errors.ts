/**
 * The errors of `@contextvars/carry`. Each has a stable `code`, so an app can
 * branch on `err.code` (and `err.reason`) whatever copy of the package made it.
 *
 * @module
 */

/** Stable codes of the errors this package reports. */
export type CarryErrorCode = 'ERR_CARRY_RECORD' | 'ERR_CARRY_ENCODE';

/**
 * Why a record was refused: it is not a record at all (`malformed`), it is over the
 * size limits (`oversized`), it was written by a version of the format this one does
 * not read (`version`), or it is well formed but a field or value is not what the
 * declaration allows (`tampered`).
 */
export type CarryRecordReason = 'malformed' | 'oversized' | 'version' | 'tampered';

/** Base class of the errors of this package. */
export class CarryError extends Error {
  /** Stable, machine-readable error code. */
  readonly code: CarryErrorCode;

  constructor(code: CarryErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * A record handed to `run`, `restore` or a queue could not be restored. Nothing of it
 * was restored: a record is taken whole or not at all.
 */
export class CarryRecordError extends CarryError {
  declare readonly code: 'ERR_CARRY_RECORD';
  /** What was wrong with the record. */
  readonly reason: CarryRecordReason;
  /** The var (or record field) at fault, when there is one. */
  readonly key: string | undefined;

  constructor(
    reason: CarryRecordReason,
    message: string,
    options?: { key?: string; cause?: unknown },
  ) {
    super('ERR_CARRY_RECORD', message, options);
    this.reason = reason;
    this.key = options?.key;
  }
}

/**
 * A declared var's value could not be encoded by `inject` (wrong type for its codec,
 * not JSON-safe, a custom encoder threw, or it would push the record over its size
 * limit). That var is left out of the record; the others travel.
 */
export class CarryEncodeError extends CarryError {
  declare readonly code: 'ERR_CARRY_ENCODE';
  /** The declared name of the var that was left out. */
  readonly key: string;

  constructor(key: string, message: string, options?: { cause?: unknown }) {
    super('ERR_CARRY_ENCODE', message, options);
    this.key = key;
  }
}
