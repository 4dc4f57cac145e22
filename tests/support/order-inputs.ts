// Order inputs the machine tests share: one order of two units, with and without a coupon.
import type { OrderInput } from '../../machines/order.machine.ts';

export const baseInput: OrderInput = {
  orderId: '6f1c2a52-5d3e-4c1b-9d0e-1f2a3b4c5d6e',
  userId: 'user-1',
  currency: 'USD',
  items: [{ product_id: 'sku-1', quantity: 2 }],
  subtotal: '99.95',
  couponCode: null,
  reservationTtlMs: 900_000,
  paymentDeadlineMs: 120_000,
};
export const withCoupon: OrderInput = { ...baseInput, couponCode: 'SAVE10' };
