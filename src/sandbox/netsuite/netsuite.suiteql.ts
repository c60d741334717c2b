/**
 * The slice of SuiteQL the sandbox understands:
 *   SELECT <* | col, col ...> FROM <table> [WHERE <cond> [AND <cond>]...] [ORDER BY <col> [ASC|DESC]]
 * where <cond> is `col = 'text'`, `col = 123` or `col IN ('a', 'b')`.
 * Anything else is answered with INVALID_PARAMETER, like a query NetSuite cannot parse.
 */

export type Row = Record<string, string | number | null>;

export interface ParsedQuery {
  columns: string[] | '*';
  table: string;
  where: { column: string; values: (string | number)[] }[];
  orderBy?: { column: string; desc: boolean };
}

export class SuiteQlError extends Error {}

const literal = (s: string): string | number => {
  const t = s.trim();
  if (/^'.*'$/s.test(t)) return t.slice(1, -1).replace(/''/g, "'");
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  throw new SuiteQlError(`unsupported literal ${t}`);
};

export function parseSuiteQl(q: string): ParsedQuery {
  const m = /^\s*select\s+(.+?)\s+from\s+([a-z_][a-z0-9_]*)(?:\s+where\s+(.+?))?(?:\s+order\s+by\s+([a-z_][a-z0-9_]*)(?:\s+(asc|desc))?)?\s*;?\s*$/is.exec(q);
  if (!m) throw new SuiteQlError('query is not SELECT ... FROM ... [WHERE ...] [ORDER BY ...]');
  const cols = m[1]!.trim();
  const columns = cols === '*' ? '*' : cols.split(',').map((c) => c.trim().toLowerCase());
  if (columns !== '*' && columns.some((c) => !/^[a-z_][a-z0-9_]*$/.test(c))) throw new SuiteQlError(`unsupported select list ${cols}`);
  const where: ParsedQuery['where'] = [];
  if (m[3]) {
    // Split on AND outside quotes.
    const parts = m[3].split(/\s+and\s+(?=(?:[^']*'[^']*')*[^']*$)/i);
    for (const p of parts) {
      const eq = /^\s*([a-z_][a-z0-9_]*)\s*=\s*('(?:[^']|'')*'|-?\d+(?:\.\d+)?)\s*$/is.exec(p);
      const inList = /^\s*([a-z_][a-z0-9_]*)\s+in\s*\((.+)\)\s*$/is.exec(p);
      if (eq) where.push({ column: eq[1]!.toLowerCase(), values: [literal(eq[2]!)] });
      else if (inList) where.push({ column: inList[1]!.toLowerCase(), values: inList[2]!.split(/,(?=(?:[^']*'[^']*')*[^']*$)/).map(literal) });
      else throw new SuiteQlError(`unsupported condition ${p.trim()}`);
    }
  }
  return { columns, table: m[2]!.toLowerCase(), where, ...(m[4] ? { orderBy: { column: m[4].toLowerCase(), desc: (m[5] ?? '').toLowerCase() === 'desc' } } : {}) };
}

const cmp = (a: unknown, b: unknown): number => {
  const na = Number(a);
  const nb = Number(b);
  if (!Number.isNaN(na) && !Number.isNaN(nb)) return na - nb;
  return String(a).localeCompare(String(b));
};

/** Applies WHERE, ORDER BY and the select list to the table's rows. Comparisons are on string forms, as SuiteQL coerces. */
export function runSuiteQl(query: ParsedQuery, rows: readonly Row[]): Row[] {
  const filtered = rows.filter((r) => query.where.every((w) => w.values.some((v) => r[w.column] !== undefined && r[w.column] !== null && String(r[w.column]) === String(v))));
  for (const w of query.where) if (rows[0] !== undefined && !(w.column in rows[0])) throw new SuiteQlError(`unknown column ${w.column}`);
  const ordered = query.orderBy ? [...filtered].sort((a, b) => cmp(a[query.orderBy!.column], b[query.orderBy!.column]) * (query.orderBy!.desc ? -1 : 1)) : filtered;
  if (query.columns === '*') return ordered;
  const cols = query.columns;
  return ordered.map((r) => Object.fromEntries(cols.map((c) => [c, r[c] ?? null])));
}
