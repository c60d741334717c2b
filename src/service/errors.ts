import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';

/** One problem with a request body, located by its dotted field path ('' for the whole body). */
export interface FieldIssue {
  path: string;
  message: string;
}

/** Error codes the service answers with; closed so clients and tests can branch on them. */
export type ServiceErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'UNKNOWN_EVENT_TYPE'
  | 'DEAL_UNRESOLVED'
  | 'DEAL_NOT_FOUND'
  | 'ACTION_REJECTED'
  | 'DISPATCH_FAILED'
  /** An inbox replay of a row that is not replayable, or already being replayed. */
  | 'NOT_REPLAYABLE'
  | 'REPLAY_IN_PROGRESS'
  | 'RATE_LIMITED'
  | 'INTERNAL';

/** Why a signature check failed; logged and stored, never the signature itself. */
export type SignatureFailure = 'MISSING_SIGNATURE' | 'MISSING_TIMESTAMP' | 'BAD_SIGNATURE' | 'STALE_TIMESTAMP' | 'NO_SECRET_CONFIGURED';

/**
 * A request the service answers with a 4xx/5xx. `body` is exactly what the
 * client receives and what the inbox keeps in its `error` column.
 */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: ServiceErrorCode,
    message: string,
    readonly details: { issues?: FieldIssue[]; reason?: SignatureFailure | string; [k: string]: unknown } = {},
  ) {
    super(message);
    this.name = 'HttpProblem';
  }

  get body(): Record<string, unknown> {
    return { error: this.code, message: this.message, ...this.details };
  }
}

export const badRequest = (issues: FieldIssue[], message = 'request body is invalid') =>
  new HttpProblem(400, 'BAD_REQUEST', message, { issues });

export const unauthorized = (reason: SignatureFailure | string, message: string) =>
  new HttpProblem(401, 'UNAUTHORIZED', message, { reason });

export const unknownEventType = (eventType: string) =>
  new HttpProblem(422, 'UNKNOWN_EVENT_TYPE', `event type '${eventType}' is not handled by this endpoint`, { eventType });

/** Zod issues -> field paths ('opportunity.accountId', 'items.0.minutes'). */
export function zodIssues(error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> }): FieldIssue[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

/** `schema.parse(value)`, or a 400 naming every failing field ("invalid <where>"). */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw badRequest(zodIssues(r.error), `invalid ${where}`);
  return r.data;
}

/** The parts of a request a route schema validates, as Fastify names them in `validationContext`. */
export type RequestPart = 'body' | 'params' | 'querystring' | 'headers';

/** What a route calls each part in its 400 message ("invalid amendment"); see the route's `config.inputNames`. */
export type InputNames = Partial<Record<RequestPart, string>>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Names the route's validated parts in a 400's message: `{ body: 'amendment' }` -> "invalid amendment". */
    inputNames?: InputNames;
  }
}

const PART_NAMES: Record<RequestPart, string> = { body: 'body', params: 'path parameters', querystring: 'query', headers: 'headers' };

/**
 * A route schema's validation failure (fastify-type-provider-zod puts one entry per zod
 * issue in `validation`, its path as a JSON pointer) -> the same 400 as `parseInput`:
 * every failing field by its dotted path, the message naming what was invalid.
 */
export function validationProblem(
  error: { validation: ReadonlyArray<{ instancePath: string; message?: string }>; validationContext?: string },
  names: InputNames = {},
): HttpProblem {
  const part = (error.validationContext ?? 'body') as RequestPart;
  const issues = error.validation.map((v) => ({ path: v.instancePath.replace(/^\//, '').split('/').join('.'), message: v.message ?? 'invalid' }));
  return badRequest(issues, `invalid ${names[part] ?? PART_NAMES[part] ?? part}`);
}

/**
 * A route's work with its known failures answered by `answer`, which sends the failure's
 * body (Fastify takes the returned reply as sent) or rethrows: anything else is Fastify's 500.
 */
export const answeringWith =
  (answer: (reply: FastifyReply, err: unknown) => unknown) =>
  <R extends FastifyRequest, T>(work: (request: R, reply: FastifyReply) => Promise<T>) =>
  async (request: R, reply: FastifyReply): Promise<T> => {
    try {
      return await work(request, reply);
    } catch (err) {
      return answer(reply, err) as never;
    }
  };
