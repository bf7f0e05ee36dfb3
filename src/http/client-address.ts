import { isIPv4, isIPv6 } from 'node:net';

/**
 * The address every limit keys on (API.md "No lockout"): an IPv4-mapped IPv6 address is its IPv4
 * address, and IPv6 addresses count per /64 — one host usually holds a whole /64, so counting each of
 * its 2^64 addresses apart would give one attacker endless tries. Spellings of one address (leading
 * zeros, `::`, upper case, a zone id) all come out the same. Anything that is not an IP address (a
 * test's made-up peer) is kept as it is.
 */
export function canonicalAddress(ip: string): string {
  const bare = ip.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  if (isIPv4(bare)) return bare;
  if (!isIPv6(bare)) return ip;
  const groups = ipv6Groups(bare);
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    const [high, low] = [groups[6]!, groups[7]!];
    return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  }
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a dotted IPv4 tail folded in). */
function ipv6Groups(text: string): number[] {
  let head = text;
  const tail: number[] = [];
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    tail.push((a << 8) | b, (c << 8) | d);
    head = text.slice(0, dotted.index);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const parse = (part: string | undefined) =>
    part ? part.split(':').map((hex) => Number.parseInt(hex, 16)) : [];
  if (!head.includes('::')) return [...parse(head), ...tail];
  const [left, right] = head.split('::') as [string, string];
  const before = parse(left);
  const after = parse(right);
  const zeros = new Array<number>(8 - before.length - after.length - tail.length).fill(0);
  return [...before, ...zeros, ...after, ...tail];
}
