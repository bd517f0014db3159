import type { z } from 'zod';

/** HTTP methods a route may document. */
export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** Who may call a route: a tenant's API key, the operator's admin token, or anyone. */
export type RouteAuth = 'tenant' | 'admin' | 'none';

/** One response of a route other than the error shape. */
export interface ResponseDoc {
  description: string;
  /** Body schema (JSON unless `contentType` says otherwise). @default no body */
  schema?: z.ZodType;
  /** @default application/json */
  contentType?: string;
  /** Response headers worth naming (e.g. Location, Retry-After). @default none */
  headers?: Record<string, string>;
}

/**
 * The documentation of one express route, registered by the module that mounts it; the OpenAPI
 * document is generated from these, and a test checks every mounted route has one.
 */
export interface RouteDoc {
  method: HttpMethod;
  /** Express path, e.g. `/v1/inference/:id`. */
  path: string;
  summary: string;
  /** Longer text (Markdown). @default none */
  description?: string;
  /** Group in the docs UI. */
  tag: string;
  /** @default tenant */
  auth?: RouteAuth;
  /** Path parameters, as an object schema whose keys are the `:names`. @default strings for each */
  params?: z.ZodType;
  /** Query parameters, as an object schema. @default none */
  query?: z.ZodType;
  /** Request headers worth naming (e.g. Idempotency-Key). @default none */
  headers?: Record<string, string>;
  /** Request body: a JSON schema, or one schema per content type. @default none */
  body?: z.ZodType | Record<string, z.ZodType>;
  /** Success responses by status. */
  responses: Record<number, ResponseDoc>;
  /**
   * Error statuses this route answers beyond the ones every route of its `auth` can (401, 500 and,
   * with a body, 400/413), each in the one error shape. @default none
   */
  errors?: number[];
}

/** Identity function that types a route file's table of docs. */
export function defineRoutes(docs: RouteDoc[]): RouteDoc[] {
  return docs;
}
