/**
 * A small SOQL subset, enough for what the adapter sends:
 * SELECT f, ... FROM Obj [WHERE c AND c ...] [ORDER BY f [ASC|DESC]] [LIMIT n]
 * with conditions `f op literal` (= != < <= > >=) and `f IN (literal, ...)`.
 */
export type Literal = string | number | boolean | null;
export interface Condition {
  field: string;
  op: '=' | '!=' | '<' | '<=' | '>' | '>=' | 'IN';
  value: Literal | Literal[];
}
export interface SoqlQuery {
  fields: string[];
  from: string;
  where: Condition[];
  orderBy?: { field: string; desc: boolean };
  limit?: number;
}

export class SoqlError extends Error {}

const TOKEN = /\s*(>=|<=|!=|[(),=<>]|'(?:[^'\\]|\\.)*'|[A-Za-z_][\w.]*|[-+]?\d{4}-\d{2}-\d{2}(?:T[\d:.]+(?:Z|[+-]\d{2}:?\d{2}))?|[-+]?\d+(?:\.\d+)?)/y;

function tokenize(q: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (pos < q.length) {
    if (/^\s*$/.test(q.slice(pos))) break;
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(q);
    if (!m) throw new SoqlError(`unexpected token at position ${pos}: ${q.slice(pos, pos + 20)}`);
    out.push(m[1]!);
    pos = TOKEN.lastIndex;
  }
  return out;
}

function literal(tok: string | undefined): Literal {
  if (tok === undefined) throw new SoqlError('missing value');
  if (tok.startsWith("'")) return tok.slice(1, -1).replace(/\\(.)/g, '$1');
  const lower = tok.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  if (lower === 'null') return null;
  if (/^[-+]?\d{4}-\d{2}-\d{2}/.test(tok)) return tok;
  if (/^[-+]?\d+(\.\d+)?$/.test(tok)) return Number(tok);
  throw new SoqlError(`unexpected value ${tok}`);
}

export function parseSoql(q: string): SoqlQuery {
  const t = tokenize(q);
  let i = 0;
  const kw = (word: string): boolean => {
    if (t[i]?.toUpperCase() === word) {
      i++;
      return true;
    }
    return false;
  };
  if (!kw('SELECT')) throw new SoqlError('expected SELECT');
  const fields: string[] = [];
  do {
    const f = t[i++];
    if (f === undefined || !/^[A-Za-z_]/.test(f)) throw new SoqlError('expected field name');
    fields.push(f);
  } while (t[i] === ',' && i++);
  if (!kw('FROM')) throw new SoqlError('expected FROM');
  const from = t[i++];
  if (!from) throw new SoqlError('expected object name');
  const where: Condition[] = [];
  if (kw('WHERE')) {
    do {
      const field = t[i++];
      if (!field) throw new SoqlError('expected field');
      if (t[i]?.toUpperCase() === 'IN') {
        i++;
        if (t[i++] !== '(') throw new SoqlError('expected (');
        const values: Literal[] = [];
        do values.push(literal(t[i++]));
        while (t[i] === ',' && i++);
        if (t[i++] !== ')') throw new SoqlError('expected )');
        where.push({ field, op: 'IN', value: values });
      } else {
        const op = t[i++] as Condition['op'];
        if (!['=', '!=', '<', '<=', '>', '>='].includes(op)) throw new SoqlError(`unexpected operator ${op}`);
        where.push({ field, op, value: literal(t[i++]) });
      }
    } while (kw('AND'));
  }
  let orderBy: SoqlQuery['orderBy'];
  if (kw('ORDER')) {
    if (!kw('BY')) throw new SoqlError('expected BY');
    const field = t[i++]!;
    const desc = kw('DESC');
    if (!desc) kw('ASC');
    orderBy = { field, desc };
  }
  let limit: number | undefined;
  if (kw('LIMIT')) limit = Number(t[i++]);
  if (i < t.length) throw new SoqlError(`unexpected token ${t[i]}`);
  return { fields, from, where, ...(orderBy ? { orderBy } : {}), ...(limit !== undefined ? { limit } : {}) };
}

const isDateLike = (v: unknown): v is string => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}/.test(v);
const toComparable = (v: unknown): unknown => (isDateLike(v) ? Date.parse(v.replace(/([+-]\d{2})(\d{2})$/, '$1:$2')) || v : v);

export function compare(a: unknown, b: unknown): number {
  const x = toComparable(a);
  const y = toComparable(b);
  if (x === y) return 0;
  if (x === null || x === undefined) return -1;
  if (y === null || y === undefined) return 1;
  return (x as number) < (y as number) ? -1 : 1;
}

export function matches(record: Record<string, unknown>, conditions: readonly Condition[]): boolean {
  return conditions.every((c) => {
    const v = record[c.field] ?? null;
    switch (c.op) {
      case '=':
        return c.value === null ? v === null : v !== null && compare(v, c.value) === 0;
      case '!=':
        return c.value === null ? v !== null : v === null || compare(v, c.value) !== 0;
      case '<':
        return v !== null && compare(v, c.value) < 0;
      case '<=':
        return v !== null && compare(v, c.value) <= 0;
      case '>':
        return v !== null && compare(v, c.value) > 0;
      case '>=':
        return v !== null && compare(v, c.value) >= 0;
      case 'IN':
        return (c.value as Literal[]).some((x) => compare(v, x) === 0);
    }
  });
}
