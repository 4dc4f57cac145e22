// Request schemas (zod, strict: an unknown field such as "status" or "total" is an error) and
// the mapping of zod issues to machine-readable errors that name the field.
import { z } from 'zod';
import type { DomainError } from '../domain/errors.ts';
import { currencies } from '../domain/money.ts';

const currencyCodes = Object.keys(currencies) as [string, ...string[]];

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
    shipping_address: z
      .object({
        name: z.string().min(1).max(200),
        line1: z.string().min(1).max(200),
        line2: z.string().max(200).optional(),
        city: z.string().min(1).max(100),
        postal_code: z.string().min(1).max(20),
        country: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code'),
      })
      .strict(),
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
