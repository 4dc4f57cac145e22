// Placing and cancelling orders: the API's entry into the actor runtime. Placing writes the
// order row (snapshot v1), its first transition and the outbox rows of its first intents in one
// statement. Cancelling sends the actor an order.cancel message through the outbox.
import { randomUUID } from 'node:crypto';
import { err, ok, type Result } from '../domain/errors.ts';
import { isCurrency, money, toAmountString } from '../domain/money.ts';
import { subtotalOf, type PricedLine } from '../domain/order-totals.ts';
import { withTransaction, type Client, type Queryable } from '../platform/db.ts';
import type { HandleOnceDeps } from '../messaging/handle-once.ts';
import { insertOutbox, type OutboxRow } from '../messaging/outbox.sql.ts';
import { messageIdFor } from '../../queues/message.ts';
import type { OrderItem } from '../../machines/order.types.ts';
import { productPrices } from '../inventory/inventory.catalog.sql.ts';
import {
  insertPlacedOrder,
  readOrder,
  type NewOrder,
  type OrderRow,
  type PlacementKey,
  type TransitionRow,
} from './order.sql.ts';
import { deployedOrderMachine, type MachineVersion } from '../../machines/migrations/index.ts';
import { restoreStored, stepperFor, type StepResult } from './order.step.ts';

export interface PlaceOrderInput {
  userId: string;
  currency: string;
  items: OrderItem[];
  couponCode: string | null;
  shippingAddress: Record<string, unknown>;
  correlationId: string;
  /** The id to create the order under (an idempotency key reserves one); a new one when absent. */
  orderId?: string;
}

export interface OrderServiceDeps extends HandleOnceDeps {
  topic: string;
  /** The machine definition orders are placed in: the deployed one unless a test gives its own. */
  machine?: MachineVersion;
  reservationTtlMs: number;
  paymentDeadlineMs: number;
}

async function priceLines(db: Queryable, items: OrderItem[], currency: string): Promise<Result<PricedLine[]>> {
  if (!isCurrency(currency)) return err('unknown_currency', `currency ${currency} is not supported`, 'currency');
  const byId = await productPrices(
    db,
    items.map((i) => i.product_id),
  );
  const lines: PricedLine[] = [];
  for (const [index, item] of items.entries()) {
    const product = byId.get(item.product_id);
    const field = `items[${index}].product_id`;
    if (product === undefined) return err('unknown_product', `product ${item.product_id} does not exist`, field);
    if (product.currency !== currency) {
      return err(
        'currency_mismatch',
        `product ${item.product_id} is sold in ${product.currency}, not ${currency}`,
        field,
      );
    }
    lines.push({ productId: item.product_id, quantity: item.quantity, unitPrice: money(product.price, currency) });
  }
  return ok(lines);
}

/** The order as placed: its row, and the outbox rows to dispatch after the commit. */
interface Placed {
  order: OrderRow;
  rows: OutboxRow[];
}

/**
 * Prices the lines, steps the new order through order.placed, and writes it with its first intents
 * (and its caller's Idempotency-Key, when given) in one statement. Returns the row as written (no
 * re-read), or null when the key was held by an earlier placement and nothing was written. The
 * prices are read just before the write, as a single transaction at READ COMMITTED would read them.
 */
export async function placeOrder(
  deps: OrderServiceDeps,
  input: PlaceOrderInput,
  key?: PlacementKey,
): Promise<Result<OrderRow | null>> {
  const priced = await priceLines(deps.pool, input.items, input.currency);
  if (!priced.ok) return priced as Result<OrderRow | null>;
  const placed = await writePlacedOrder(deps, input, priced.value, input.orderId ?? randomUUID(), key);
  if (placed === null) return ok(null);
  await deps.dispatcher.dispatch(placed.rows);
  return ok(placed.order);
}

async function writePlacedOrder(
  deps: OrderServiceDeps,
  input: PlaceOrderInput,
  lines: PricedLine[],
  orderId: string,
  key: PlacementKey | undefined,
): Promise<Placed | null> {
  const currency = input.currency as Parameters<typeof subtotalOf>[1];
  const subtotal = toAmountString(subtotalOf(lines, currency));
  const definition = deps.machine ?? deployedOrderMachine;
  const { start, step, persist } = stepperFor(definition.machine);
  const initial = start({
    orderId,
    userId: input.userId,
    currency,
    items: input.items,
    subtotal,
    couponCode: input.couponCode,
    reservationTtlMs: deps.reservationTtlMs,
    paymentDeadlineMs: deps.paymentDeadlineMs,
  });
  const placed = step(
    initial,
    { type: 'order.placed' },
    { correlationId: input.correlationId, occurredAt: new Date(), topic: deps.topic },
  );
  const order: NewOrder = {
    id: orderId,
    user_id: input.userId,
    currency,
    status: placed.status,
    state: placed.to,
    snapshot: persist(placed.snapshot),
    machine_version: definition.version,
    items: lines.map((l) => ({
      product_id: l.productId,
      quantity: l.quantity,
      unit_price: toAmountString(l.unitPrice),
    })),
    subtotal,
    total: subtotal,
    coupon_code: input.couponCode,
    shipping_address: input.shippingAddress,
    correlation_id: input.correlationId,
  };
  const written = await insertPlacedOrder(deps.pool, order, firstTransition(orderId, placed), placed.messages, key);
  if (written === null) return null;
  const row: OrderRow = {
    ...order,
    version: 1,
    discount: placed.snapshot.context.discount,
    failure_reason: null,
    created_at: written.createdAt,
    updated_at: written.createdAt,
    finalized_at: null,
  };
  return { order: row, rows: written.rows };
}

function firstTransition(orderId: string, placed: StepResult): TransitionRow {
  const event = { type: 'order.placed' };
  const messageId = messageIdFor(orderId, event.type);
  return { orderId, seq: 1, from: placed.from, to: placed.to, eventType: event.type, messageId, event };
}

/** Who asked for a cancel: the customer, or an operator forcing a stuck order to end. */
export type CancelReason = 'cancelled_by_customer' | 'cancelled_by_operator';

/**
 * Runs inside the cancel's transaction once the order's answer is known (accepted or refused), so
 * what it writes (an operator's audit row) commits with the cancel, or not at all.
 */
export type CancelRecorder = (client: Client, result: Result<OrderRow>) => Promise<void>;

/**
 * Asks the actor to cancel. Refused (a value, no message sent) when the order's current state
 * does not take order.cancel. The actor decides again under its row lock, so a cancel that races
 * a final transition is simply ignored by the machine. Compensation then runs as for any failure;
 * no table of another module is written here, but `record` (the caller's) runs in the transaction.
 */
export async function requestCancel(
  deps: OrderServiceDeps,
  orderId: string,
  correlationId: string,
  reason: CancelReason = 'cancelled_by_customer',
  record?: CancelRecorder,
): Promise<Result<OrderRow>> {
  const outcome = await withTransaction(
    deps.pool,
    async (client) => {
      const refused = async (result: Result<OrderRow>) => {
        await record?.(client, result);
        return { result, rows: [] };
      };
      const order = await readOrder(client, orderId);
      if (order === undefined) return refused(err('order_not_found', `order ${orderId} does not exist`, 'id'));
      const definition = deps.machine ?? deployedOrderMachine;
      const stored = restoreStored(definition, order.snapshot, order.machine_version);
      if (!stored.can({ type: 'order.cancel' })) {
        return refused(
          err(
            'order_not_cancellable',
            `order ${orderId} is ${order.status} (${order.state}) and can no longer be cancelled`,
          ),
        );
      }
      const rows = await insertOutbox(client, [
        {
          messageId: messageIdFor(orderId, 'order.cancel'),
          orderId,
          correlationId,
          type: 'order.cancel',
          payload: { reason },
          destination: 'queue:orders',
        },
      ]);
      await record?.(client, ok(order));
      return { result: ok(order), rows };
    },
    deps.transaction,
  );
  await deps.dispatcher.dispatch(outcome.rows);
  return outcome.result;
}

export { readOrder };
