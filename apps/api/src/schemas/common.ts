import { Type, type TSchema } from 'typebox';

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/**
 * Nullable for request bodies. The API's Ajv coerces types (querystrings need it), and with a
 * `{ type: 'null' }` branch it turned 0, false and "" into null: `maxInFlight: 0` was accepted as
 * "no value" instead of refused. `enum: [null]` matches only a real null. It goes after an object
 * schema (null cannot be coerced into an object) and before a scalar one, whose coercion would
 * otherwise turn null into 0 before the null branch is tried.
 */
export const NullableInput = <T extends TSchema>(schema: T) => {
  const onlyNull = Type.Unsafe<null>({ enum: [null] });
  const scalar = !('anyOf' in schema) && (schema as { type?: unknown }).type !== 'object';
  return scalar ? Type.Union([onlyNull, schema]) : Type.Union([schema, onlyNull]);
};

export const DateTime = Type.String({ format: 'date-time' });

export const IdParams = Type.Object({ id: Type.String({ description: 'Resource id' }) });

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'nextCursor from the previous page' })),
};

export const Page = <T extends TSchema>(item: T) =>
  Type.Object({ data: Type.Array(item), nextCursor: Nullable(Type.String()) });

export const ErrorResponse = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String(),
  code: Type.Optional(Type.String()),
});

export const errorResponses = {
  400: ErrorResponse,
  401: ErrorResponse,
  404: ErrorResponse,
  409: ErrorResponse,
  429: ErrorResponse,
};
