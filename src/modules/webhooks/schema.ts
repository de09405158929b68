import type { ColumnType } from 'kysely';

/** Tables owned by the webhooks module (migrations/0009_webhooks.sql). */

export type EndpointOwnerKind = 'operator' | 'partner' | 'customer';
export type EndpointStatus = 'active' | 'disabled';
export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

type CreatedAt = ColumnType<Date, Date | undefined, never>;
type UpdatedAt = ColumnType<Date, Date | undefined, Date>;

export interface WebhookEndpointsTable {
  id: string;
  owner_kind: EndpointOwnerKind;
  partner_id: string | null;
  customer_id: string | null;
  url: string;
  description: string | null;
  events: string[];
  status: ColumnType<EndpointStatus, EndpointStatus | undefined, EndpointStatus>;
  secret_sealed: string;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface WebhookDeliveriesTable {
  endpoint_id: string;
  event_id: string;
  event_type: string;
  payload: string;
  status: ColumnType<DeliveryStatus, DeliveryStatus | undefined, DeliveryStatus>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: ColumnType<Date, Date | undefined, Date>;
  last_attempt_at: Date | null;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: Date | null;
  created_at: CreatedAt;
}

export interface WebhooksTables {
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
}
