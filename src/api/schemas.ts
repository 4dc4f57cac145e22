// The API's shapes as zod schemas: path, query and admin bodies that the routes check, and the
// responses that /openapi.json describes. Money is always a decimal string next to its currency.
import { z } from 'zod';
import { orderStatuses } from '../../machines/order.status.ts';
import { currencies } from '../domain/money.ts';
import { shippingAddressSchema, text } from './validation.ts';

const currencyCodes = Object.keys(currencies) as [string, ...string[]];
const productId = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ . -');
const couponCode = z.string().regex(/^[A-Z0-9_-]{1,40}$/, 'must be 1-40 characters of A-Z 0-9 _ -');
const amount = z.string().regex(/^\d{1,16}(\.\d{1,4})?$/, 'must be a decimal string such as "12.50"');
const money = z.string().describe('decimal amount as a string, in the currency next to it');
const timestamp = z.string().describe('ISO 8601 date-time');

export const errorBodySchema = z.object({
  error: z.object({ code: z.string(), field: z.string().optional(), message: z.string() }),
  errors: z.array(z.object({ code: z.string(), field: z.string().optional(), message: z.string() })).optional(),
});

// --- path and query --------------------------------------------------------------------------
export const orderIdParams = z.object({ id: z.uuid('must be a UUID') }).strict();
export const productIdParams = z.object({ id: productId }).strict();
export const couponCodeParams = z.object({ code: couponCode }).strict();
export const accountIdParams = z
  .object({ id: z.string().regex(/^[a-z]+:[A-Za-z0-9_.-]{1,64}$/, 'must look like kind:name, e.g. customer:alice') })
  .strict();

const limit = (max: number, fallback: number) =>
  z
    .string()
    .regex(/^\d{1,4}$/, `must be an integer from 1 to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(1, `must be an integer from 1 to ${max}`).max(max, `must be at most ${max}`))
    .optional()
    .transform((value) => value ?? fallback);
const cursor = z
  .string()
  .max(200)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be a cursor returned by an earlier page')
  .optional();

export const pageLimitMax = 100;
export const listOrdersQuery = z
  .object({
    user_id: productId.optional(),
    status: z.enum(orderStatuses).optional(),
    limit: limit(pageLimitMax, 20),
    cursor,
  })
  .strict();
export const transactionsQuery = z.object({ limit: limit(pageLimitMax, 20), cursor }).strict();
export const productsQuery = z.object({ limit: limit(500, 100), cursor }).strict();

// --- admin bodies ----------------------------------------------------------------------------
export const createProductBody = z
  .object({
    id: productId,
    name: text(200),
    price: amount,
    currency: z.enum(currencyCodes),
    stock: z.number().int().min(0).max(1_000_000_000).default(0),
  })
  .strict();
export const updateProductBody = z
  .object({ name: text(200).optional(), price: amount.optional() })
  .strict()
  .refine((body) => body.name !== undefined || body.price !== undefined, 'must change name or price');
export const setStockBody = z.object({ on_hand: z.number().int().min(0).max(1_000_000_000) }).strict();
export const addStockBody = z
  .object({
    quantity: z
      .number()
      .int()
      .min(-1_000_000_000)
      .max(1_000_000_000)
      .refine((q) => q !== 0, 'must not be 0'),
  })
  .strict();
export const createCouponBody = z
  .object({
    code: couponCode,
    kind: z.enum(['percent', 'fixed']),
    percent_off: z.string().optional(),
    amount_off: z.string().optional(),
    currency: z.enum(currencyCodes).optional(),
    redemptions_max: z.number().int().min(1).max(2_147_483_647),
    expires_at: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();
export const forceCancelBody = z
  .object({ reason: z.string().max(500).optional() })
  .strict()
  .optional();

// --- responses -------------------------------------------------------------------------------
export const orderSchema = z.object({
  id: z.uuid(),
  status: z.enum(orderStatuses),
  state: z.string().describe('the machine state, e.g. charging or compensating.refunding'),
  failure_reason: z.string().nullable(),
  user_id: z.string(),
  currency: z.string(),
  items: z.array(z.object({ product_id: z.string(), quantity: z.number().int(), unit_price: money })),
  subtotal: money,
  discount: money,
  total: money,
  coupon_code: z.string().nullable(),
  shipping_address: shippingAddressSchema,
  version: z.number().int(),
  created_at: timestamp,
  updated_at: timestamp,
  finalized_at: timestamp.nullable(),
});
export const orderPageSchema = z.object({ orders: z.array(orderSchema), next_cursor: z.string().nullable() });
export const orderHistorySchema = z.object({
  order_id: z.uuid(),
  transitions: z.array(
    z.object({
      seq: z.number().int(),
      from_state: z.string().nullable(),
      to_state: z.string(),
      event_type: z.string(),
      message_id: z.string(),
      event: z.record(z.string(), z.unknown()),
      at: timestamp,
    }),
  ),
});
export const productSchema = z.object({
  id: z.string(),
  name: z.string(),
  price: money,
  currency: z.string(),
  stock: z.object({
    on_hand: z.number().int(),
    available: z.number().int(),
    held: z.number().int(),
    sold: z.number().int(),
  }),
});
export const productPageSchema = z.object({ products: z.array(productSchema), next_cursor: z.string().nullable() });
export const couponSchema = z.object({
  code: z.string(),
  kind: z.enum(['percent', 'fixed']),
  percent_off: z.string().nullable(),
  amount_off: money.nullable(),
  currency: z.string().nullable(),
  expires_at: timestamp.nullable(),
  redemptions_max: z.number().int(),
  redemptions_count: z.number().int(),
  created_at: timestamp,
});
export const couponCheckSchema = couponSchema.extend({
  valid: z.boolean(),
  invalid_reason: z.enum(['expired', 'exhausted']).nullable(),
});
export const balanceSchema = z.object({
  account_id: z.string(),
  balances: z.array(z.object({ currency: z.string(), debits: money, credits: money, balance: money })),
});
const entrySchema = z.object({
  account_id: z.string(),
  direction: z.enum(['debit', 'credit']),
  amount: money,
  currency: z.string(),
});
export const transactionsPageSchema = z.object({
  account_id: z.string(),
  entries: z.array(
    entrySchema.extend({
      entry_id: z.string(),
      transaction_id: z.uuid(),
      order_id: z.uuid(),
      kind: z.enum(['order.payment', 'order.reversal']),
      description: z.string(),
      at: timestamp,
      counter_entries: z.array(entrySchema),
    }),
  ),
  next_cursor: z.string().nullable(),
});
export const ledgerValidationSchema = z.object({
  balanced: z.boolean(),
  transactions_checked: z.number().int(),
  problems: z.array(
    z.object({
      transaction_id: z.string().optional(),
      account_id: z.string().optional(),
      currency: z.string().optional(),
      problem: z.string(),
    }),
  ),
});
