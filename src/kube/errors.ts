/**
 * Typed API errors: every failed call of the Kubernetes layer rejects with an ApiError carrying the
 * HTTP status (0 = no answer), the Status reason and any Retry-After, so callers test
 * `isNotFound(err)` instead of casting to `{ code?: number }`.
 */

/** A non-2xx answer from the API server (code 0 = no answer: network error or timeout). */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly reason?: string,
    /** Seconds from a Retry-After header (429/503), when given. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function errorCode(err: unknown): number | undefined {
  return err instanceof ApiError ? err.code : undefined;
}

export const isConflict = (err: unknown): boolean => errorCode(err) === 409;
export const isNotFound = (err: unknown): boolean => errorCode(err) === 404;
export const isAlreadyExists = (err: unknown): boolean =>
  err instanceof ApiError && err.code === 409 && err.reason === "AlreadyExists";

/** The one way an error is shown (CLI messages, logs, check details): an API error's HTTP status after its message. */
export function errorText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // 0: no answer at all (network error or timeout), nothing to add.
  return err instanceof ApiError && err.code > 0 ? `${message} (HTTP ${err.code})` : message;
}

/** An ApiError from a non-2xx answer's body (a Status object, or raw text). */
export function statusError(code: number, text: string, retryAfter: string | string[] | undefined): ApiError {
  let message = text.slice(0, 500);
  let reason: string | undefined;
  try {
    const s = JSON.parse(text) as { message?: string; reason?: string };
    message = s.message ?? message;
    reason = s.reason;
  } catch {
    // not a Status object; keep the raw text
  }
  const ra = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
  return new ApiError(code, message || `HTTP ${code}`, reason, Number.isFinite(ra) ? ra : undefined);
}
