// Text for people about lists of any length: messages, logs and Events stay short whatever the input.

/** How many items a message names; the rest are counted. */
export const LISTED = 3;

/** "a, b, c and 996 more" (a Service listing 1,000 IPs gets a short message, not a 16 kB one). */
export function listSome(items: readonly string[], separator = ", ", listed = LISTED): string {
  const shown = items.slice(0, listed).join(separator);
  return items.length > listed ? `${shown} and ${items.length - listed} more` : shown;
}
