// Request schemas (zod, strict: an unknown field such as "status" or "total" is an error) and
// the mapping of zod issues to machine-readable errors that name the field.
import { z } from 'zod';
import type { DomainError } from '../domain/errors.ts';
import { normalizeCountry } from '../domain/countries.ts';
import { currencies } from '../domain/money.ts';

const currencyCodes = Object.keys(currencies) as [string, ...string[]];

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Free text bound for PostgreSQL: no control characters (jsonb and text refuse NUL) and no lone
 * surrogates (jsonb refuses them), so odd input is a 400 naming the field, not a database error.
 */
export const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max)
    // eslint-disable-next-line no-control-regex -- refusing control characters is the point
    .refine((value) => !/[\u0000-\u001f\u007f]/.test(value) && !loneSurrogate.test(value), 'must be printable text');

/**
 * A postal address as the seed document sends it: street, city, state, country, postal_code, with
 * an optional name and second street line. The country is ISO 3166-1 alpha-2 or alpha-3 in any
 * letter case, and is stored as its alpha-2 code.
 */
export const shippingAddressSchema = z
  .object({
    name: text(200).optional(),
    street: text(200),
    street2: text(200).optional(),
    city: text(100),
    state: text(100).optional(),
    postal_code: text(20),
    country: z.string().transform((code, context) => {
      const alpha2 = normalizeCountry(code);
      if (alpha2 === null) {
        context.addIssue({ code: 'custom', message: 'must be an ISO 3166-1 alpha-2 or alpha-3 code' });
        return z.NEVER;
      }
      return alpha2;
    }),
  })
  .strict();

export const createOrderSchema = z
  .object({
    user_id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ . -'),
    currency: z.enum(currencyCodes, { message: `must be one of ${currencyCodes.join(', ')}` }),
    items: z
      .array(
        z
          .object({
            product_id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be a product id'),
            quantity: z.number().int('must be an integer').positive('must be positive').max(1_000),
          })
          .strict(),
      )
      .min(1, 'must hold at least one item')
      .max(100),
    coupon_code: z
      .string()
      .regex(/^[A-Z0-9_-]{1,40}$/, 'must be 1-40 characters of A-Z 0-9 _ -')
      .optional(),
    shipping_address: shippingAddressSchema,
  })
  .strict();

export type CreateOrderBody = z.infer<typeof createOrderSchema>;

function pathOf(path: PropertyKey[]): string {
  return path.reduce<string>(
    (acc, part) =>
      typeof part === 'number' ? `${acc}[${part}]` : acc === '' ? String(part) : `${acc}.${String(part)}`,
    '',
  );
}

/** One DomainError per problem; an unknown key is named as the field itself. */
export function validationErrors(error: z.ZodError): DomainError[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        code: 'validation_failed' as const,
        field: pathOf([...issue.path, key]),
        message: `unknown field ${key}`,
      }));
    }
    const field = pathOf(issue.path);
    return [{ code: 'validation_failed' as const, field: field === '' ? 'body' : field, message: issue.message }];
  });
}

export const uuidParam = z.uuid();
