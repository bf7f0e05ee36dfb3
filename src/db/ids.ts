/** A UUID as this API writes them (lower case); the pattern is also what query schemas declare. */
export const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
const UUID = new RegExp(UUID_PATTERN);

/** Whether `value` can be a row id at all: anything else is looked up as nothing (404), not queried. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
