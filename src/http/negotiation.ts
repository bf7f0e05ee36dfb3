/**
 * Content negotiation (RFC 9110 §12.5.1) between the types a route offers: the offered type the
 * Accept header gives the highest weight (q), the first offered one on a tie or without Accept.
 */
export function preferredType(accept: string | undefined, offered: readonly string[]): string {
  const fallback = offered[0]!;
  if (accept === undefined || accept.trim() === '') return fallback;
  const ranges = accept.split(',').map((part) => {
    const [range = '', ...params] = part.trim().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.toLowerCase().startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    return {
      range: range.trim().toLowerCase(),
      q: Number.isFinite(weight) ? Math.min(1, Math.max(0, weight)) : 0,
    };
  });
  /** The weight of the most specific range that matches the type. */
  const weightOf = (type: string): number => {
    const [major] = type.split('/');
    const exact = ranges.find((r) => r.range === type);
    if (exact) return exact.q;
    const partial = ranges.find((r) => r.range === `${major}/*`);
    if (partial) return partial.q;
    return ranges.find((r) => r.range === '*/*')?.q ?? 0;
  };
  let best = fallback;
  let bestWeight = weightOf(fallback);
  for (const type of offered.slice(1)) {
    const weight = weightOf(type);
    if (weight > bestWeight) {
      best = type;
      bestWeight = weight;
    }
  }
  return best;
}
