/**
 * Stripe request bodies are application/x-www-form-urlencoded with bracket
 * nesting: `metadata[k]=v`, `items[0][price]=price_1`, `expand[0]=x`.
 * Numeric segments make arrays, as Stripe's own parser does.
 */
export type FormValue = string | FormValue[] | { [k: string]: FormValue };

export function parseStripeForm(body: string): Record<string, FormValue> {
  const root: Record<string, FormValue> = {};
  for (const [rawKey, value] of new URLSearchParams(body)) {
    const segments = rawKey.replace(/\]/g, '').split('[');
    let cur: Record<string, FormValue> | FormValue[] = root;
    segments.forEach((seg, i) => {
      const last = i === segments.length - 1;
      const nextIsIndex = /^\d+$/.test(segments[i + 1] ?? '');
      const key: string | number = Array.isArray(cur) ? Number(seg) : seg;
      const holder = cur as Record<string | number, FormValue>;
      if (last) {
        holder[key] = value;
        return;
      }
      if (holder[key] === undefined || typeof holder[key] === 'string') holder[key] = nextIsIndex ? [] : {};
      cur = holder[key] as Record<string, FormValue> | FormValue[];
    });
  }
  return root;
}
