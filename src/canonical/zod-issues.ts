import type { z } from 'zod';

/** 'lines.0.cap.notToExceed.amountMinor: Invalid input: expected int, received number' — one string per bad field. */
export const formatZodIssues = (error: z.ZodError): string[] =>
  error.issues.map((i) => `${i.path.length > 0 ? i.path.map(String).join('.') : '(root)'}: ${i.message}`);
