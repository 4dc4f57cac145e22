// Entry point: loads demo products, stock and coupons, and prints what it loaded. Running it
// again tops the stock up and leaves existing coupons as they are.
import { createCoupon, type NewCoupon } from '../coupons/coupons.create.ts';
import { upsertProduct, type NewProduct } from '../inventory/inventory.sql.ts';
import { loadConfigOrExit } from '../platform/config.ts';
import { createPool } from '../platform/db.ts';
import { guardProcess } from './process-guard.ts';
import { createLogger } from '../platform/logger.ts';

export const demoProducts: NewProduct[] = [
  // The seed document's own example orders prod-001; its siblings make a small catalogue.
  { id: 'prod-001', name: 'Smartphone, 128 GB', price: '799.00', currency: 'USD', stock: 100 },
  { id: 'prod-002', name: 'Wireless earbuds', price: '129.99', currency: 'USD', stock: 200 },
  { id: 'prod-003', name: 'Phone case', price: '19.99', currency: 'USD', stock: 500 },
  { id: 'prod-004', name: 'USB-C charger, 30 W', price: '29.00', currency: 'USD', stock: 300 },
  { id: 'prod-005', name: 'Smartwatch', price: '249.00', currency: 'EUR', stock: 50 },
  { id: 'espresso-beans-1kg', name: 'Espresso beans, 1 kg', price: '24.90', currency: 'USD', stock: 100 },
  { id: 'pour-over-kettle', name: 'Pour-over kettle', price: '59.00', currency: 'USD', stock: 25 },
  { id: 'ceramic-mug', name: 'Ceramic mug', price: '12.50', currency: 'USD', stock: 200 },
  { id: 'burr-grinder', name: 'Burr grinder', price: '149.99', currency: 'USD', stock: 5 },
  { id: 'filter-papers-100', name: 'Filter papers (100)', price: '4.99', currency: 'USD', stock: 500 },
  { id: 'moka-pot-eur', name: 'Moka pot', price: '34.00', currency: 'EUR', stock: 40 },
];

export const demoCoupons: NewCoupon[] = [
  { code: 'WELCOME10', kind: 'percent', percentOff: '10', redemptionsMax: 1_000 },
  { code: 'FIVEOFF', kind: 'fixed', amountOff: '5.00', currency: 'USD', redemptionsMax: 100 },
  { code: 'ONCEONLY', kind: 'percent', percentOff: '50', redemptionsMax: 1 },
  {
    code: 'EXPIRED2020',
    kind: 'percent',
    percentOff: '20',
    redemptionsMax: 100,
    expiresAt: new Date('2020-12-31T23:59:59Z'),
  },
];

const config = loadConfigOrExit();
guardProcess(createLogger(config.LOG_LEVEL, 'seed'));
const pool = createPool({ connectionString: config.DATABASE_URL, poolSizeMax: 2, statementTimeoutMs: 30_000 });
try {
  for (const product of demoProducts) {
    await upsertProduct(pool, product);
    console.log(
      `seed: product ${product.id.padEnd(20)} ${product.price} ${product.currency}  +${product.stock} in stock`,
    );
  }
  for (const coupon of demoCoupons) {
    const created = await createCoupon(pool, coupon);
    const terms =
      coupon.kind === 'percent' ? `${coupon.percentOff}% off` : `${coupon.amountOff} ${coupon.currency} off`;
    console.log(
      `seed: coupon  ${coupon.code.padEnd(20)} ${terms}, max ${coupon.redemptionsMax}${created.ok ? '' : ' (exists already)'}`,
    );
  }
} catch (error) {
  console.error(`seed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await pool.end();
}
