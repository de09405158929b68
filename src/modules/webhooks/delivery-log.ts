import type { Selectable } from 'kysely';
import type { Db } from '../../db/index.js';
import type { Principal } from '../../tenancy.js';
import { getEndpoint } from './endpoints.js';
import type { DeliveryStatus, WebhookDeliveriesTable } from './schema.js';

/** A delivery is named by its event (unique within its endpoint): `id` is the event id. */
export type Delivery = Selectable<WebhookDeliveriesTable> & { id: string };

export interface DeliveryFilter {
  limit: number;
  /** Cursor: an event id; the page continues with older events. */
  startingAfter?: string;
  status?: DeliveryStatus;
}

/** An endpoint's deliveries, newest event first (what an integrator checks first is the latest). */
export async function listDeliveries(
  db: Db,
  principal: Principal,
  endpointId: string,
  filter: DeliveryFilter,
): Promise<Delivery[]> {
  const endpoint = await getEndpoint(db, principal, endpointId);
  let query = db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .select('event_id as id')
    .where('endpoint_id', '=', endpoint.id);
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.startingAfter) query = query.where('event_id', '<', filter.startingAfter);
  return query
    .orderBy('event_id', 'desc')
    .limit(filter.limit + 1)
    .execute();
}
