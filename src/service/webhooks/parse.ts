import { z } from 'zod';
import { badRequest, unknownEventType, zodIssues } from '../errors';

/** Parses with a zod schema or throws 400 with the field paths. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, pathPrefix: (string | number)[] = []): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issues = zodIssues(result.error).map((i) => ({
      ...i,
      path: [...pathPrefix.map(String), ...(i.path ? [i.path] : [])].join('.'),
    }));
    throw badRequest(issues);
  }
  return result.data;
}

/**
 * Reads the event-type field first: a missing or non-string type is a 400
 * (with its path), a well-formed but unhandled one is a 422.
 */
export function eventTypeOf<T extends string>(json: unknown, field: string, known: readonly T[]): T {
  const value = typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>)[field] : undefined;
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw badRequest([{ path: '', message: 'expected a JSON object' }]);
  }
  if (typeof value !== 'string' || value.length === 0) {
    throw badRequest([{ path: field, message: value === undefined ? 'required' : 'expected a non-empty string' }]);
  }
  if (!(known as readonly string[]).includes(value)) throw unknownEventType(value);
  return value as T;
}

/** ISO-8601 instant normalised to UTC with milliseconds. */
export const toIsoInstant = (s: string): string => new Date(s).toISOString();

/**
 * An ISO-8601 date-time with a zone (Z, +01:00 or Salesforce's +0000), any
 * fractional precision (DocuSign sends 7 digits); output normalised to UTC.
 */
export const IsoInstant = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/, {
    message: 'expected an ISO-8601 date-time with a zone',
    abort: true,
  })
  .refine((s) => !Number.isNaN(Date.parse(s)), 'expected a valid date-time')
  .transform(toIsoInstant);

export const IsoDate = z.iso.date();

/** Vendor ids arrive as strings or numbers (Kantata); kept as strings. */
export const VendorId = z.union([z.string().min(1).max(200), z.number().int().nonnegative()]).transform(String);
