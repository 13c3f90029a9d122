/**
 * An HTTP or network failure talking to the CloudSigma API (exit code 2). The message names the
 * method and path, never the credentials or the Authorization header.
 */
export class CloudSigmaApiError extends Error {
  override name = "CloudSigmaApiError";
  constructor(
    message: string,
    readonly method: string,
    readonly path: string,
    /** HTTP status, or undefined for network errors and timeouts. */
    readonly status?: number,
    /** `error_type` from the API's error body, when there is one. */
    readonly errorType?: string,
  ) {
    super(message);
  }
}
