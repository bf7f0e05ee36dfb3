import type { DatabaseSync } from 'node:sqlite';

/**
 * SQL functions inkgate adds to its SQLite connections. node:sqlite runs queries on the event loop
 * and offers no progress handler, so a scan whose cost depends on the data (search) checks its own
 * time budget on every row it examines: `inkgate_scan_match` throws once the deadline has passed,
 * which ends the statement, and records which rows it matched and the last row it examined, so the
 * caller can answer what was found and where to go on.
 */
export interface ScanProgress {
  /** Ids of the rows that matched, in the order examined. */
  readonly found: string[];
  /** The last row examined completely: (created_at as stored, id). */
  last: { createdAt: string; id: string } | undefined;
}

const scans = new Map<string, ScanProgress>();
const BUDGET_SPENT = 'inkgate: scan budget spent';

/** Starts tracking a scan under `token` (unique per query); end it with endScan. */
export function beginScan(token: string): ScanProgress {
  const progress: ScanProgress = { found: [], last: undefined };
  scans.set(token, progress);
  return progress;
}

export function endScan(token: string): void {
  scans.delete(token);
}

export function isScanBudgetSpent(error: unknown): boolean {
  return error instanceof Error && error.message.includes(BUDGET_SPENT);
}

export function registerSqliteFunctions(database: DatabaseSync): void {
  // inkgate_scan_match(token, deadline ms, created_at, id, title, content, needle): 1 when the needle
  // (already lower-cased) is a substring of the title or the content, ignoring case.
  database.function('inkgate_scan_match', { deterministic: false, varargs: true }, (...args) => {
    const [token, deadline, createdAt, id, title, content, needle] = args as [
      string,
      number,
      string,
      string,
      string,
      string,
      string,
    ];
    if (Date.now() > deadline) throw new Error(BUDGET_SPENT);
    const progress = scans.get(token);
    const matched = title.toLowerCase().includes(needle) || content.toLowerCase().includes(needle);
    if (progress) {
      if (matched) progress.found.push(id);
      progress.last = { createdAt, id };
    }
    return matched ? 1 : 0;
  });
}
