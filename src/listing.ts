/** How many items an error or warning names before it only counts the rest. */
export const LISTED = 20

/**
 * The first {@link LISTED} items joined, and a count of the rest: a glob that matched
 * 10,000 badly named files should fail with one readable error, not a megabyte of names
 * (GitHub cuts an annotation long before that).
 */
export function listSome(items: readonly string[], separator: string): string {
  if (items.length <= LISTED) return items.join(separator)
  const rest = items.length - LISTED
  return `${items.slice(0, LISTED).join(separator)}${separator}… and ${rest.toLocaleString('en-US')} more`
}
