import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { MaintenanceScheduleColumns } from '../quiet/maintenance.rows';

/**
 * The database schema, typed the way Kysely documents it. Timestamps are ISO-8601 UTC text with
 * milliseconds (`2026-11-28T03:00:00.000Z`); booleans are 0/1 integers (SQLite has no boolean type).
 */

export type MachineStatus = 'pending' | 'online' | 'offline';
export type EventType = 'machine.offline' | 'machine.online' | 'machine.still_offline' | 'machine.flapping' | 'machine.flapping_ended';
/** Why an event was recorded but sent to nobody (CONTRACT §6). */
export type SuppressedReason = 'flapping' | 'maintenance' | 'snooze';
export type ChannelKind = 'webhook' | 'telegram';
export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'dead';
/** A 0/1 flag. */
export type Flag = 0 | 1;

export interface UsersTable {
  id: Generated<number>;
  email: string;
  is_admin: ColumnType<Flag, Flag | undefined, Flag>;
  created_at: string;
}

export interface ApiTokensTable {
  id: Generated<number>;
  user_id: number;
  /** hex SHA-256 of the token; the token itself is shown once and never stored */
  token_hash: string;
  name: string | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface MachinesTable {
  id: Generated<number>;
  user_id: number;
  name: string;
  hostname: string | null;
  description: string | null;
  /** Written only by the heartbeat daemon (compare-and-set), apart from the initial `pending`. */
  status: ColumnType<MachineStatus, MachineStatus | undefined, MachineStatus>;
  /** Server time of the last report. Written only by ingest. */
  last_seen: string | null;
  /** When the daemon last changed `status` (for an offline machine: when it went offline). */
  status_changed_at: string | null;
  is_enabled: ColumnType<Flag, Flag | undefined, Flag>;
  /** When the machine was last re-enabled; counts as a fresh start of its threshold. */
  enabled_at: string | null;
  platform: string | null;
  platform_version: string | null;
  kernel_version: string | null;
  cpu_cores: number | null;
  memory_total_mb: number | null;
  disk_total_gb: number | null;
  last_boot_time: string | null;
  /** The hostname the agent reports (may differ from the user-given `hostname`). */
  reported_hostname: string | null;
  /** An ISO time, `next-online`, or null (migration 021). A past time is an ended snooze the daemon has not acted on yet. */
  snoozed_until: ColumnType<string | null, string | null | undefined, string | null>;
  /** What the owner's channels were last told of this machine (migration 021); written only by the daemon. */
  announced_status: ColumnType<'online' | 'offline' | null, 'online' | 'offline' | null | undefined, 'online' | 'offline' | null>;
  /** When the event that told them was written. */
  announced_at: ColumnType<string | null, string | null | undefined, string | null>;
  /** When the current flapping began; null when not flapping. */
  flapping_since: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON list of the latest counted status changes (ISO times), oldest first. */
  flap_changes: ColumnType<string | null, string | null | undefined, string | null>;
  /** The end of the latest maintenance window or snooze: the threshold counts from it at the earliest. */
  quiet_ended_at: ColumnType<string | null, string | null | undefined, string | null>;
  /** When the daemon must next look at the machine for a quiet rule (indexed); null when nothing is due. */
  quiet_due_at: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: string;
  updated_at: string;
}

export interface MachineApiKeysTable {
  id: Generated<number>;
  machine_id: number;
  /** hex SHA-256 of the key */
  key_hash: string;
  created_at: string;
  revoked_at: string | null;
}

export interface MachineMetricsTable {
  id: Generated<number>;
  machine_id: number;
  recorded_at: string;
  cpu_pct: number | null;
  mem_used_pct: number | null;
  disk_used_pct: number | null;
  net_rx_bytes: number | null;
  net_tx_bytes: number | null;
  uptime_s: number | null;
}

export interface WebhooksTable {
  id: Generated<number>;
  user_id: number;
  url: string;
  /** Needed in clear to sign deliveries; never returned after creation. */
  secret: string;
  is_active: ColumnType<Flag, Flag | undefined, Flag>;
  created_at: string;
  updated_at: string;
  last_success_at: string | null;
  last_error_at: string | null;
  last_error: string | null;
  failure_count: ColumnType<number, number | undefined, number>;
  /** the first failure after the last success; null while the webhook works (migration 017) */
  failing_since: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface TelegramRecipientsTable {
  id: Generated<number>;
  user_id: number;
  chat_id: number;
  is_active: ColumnType<Flag, Flag | undefined, Flag>;
  created_at: string;
  updated_at: string;
  last_success_at: string | null;
  last_error_at: string | null;
  last_error: string | null;
  /** the first failure after the last success; null while the chat works (migration 017) */
  failing_since: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface NotificationPreferencesTable {
  user_id: number;
  machine_offline: ColumnType<Flag, Flag | undefined, Flag>;
  machine_online: ColumnType<Flag, Flag | undefined, Flag>;
  /** `machine.flapping` and `machine.flapping_ended` (migration 021) */
  machine_flapping: ColumnType<Flag, Flag | undefined, Flag>;
  /** reminder interval in milliseconds, 0 = off */
  remind_every_ms: ColumnType<number, number | undefined, number>;
  remind_max: ColumnType<number, number | undefined, number>;
  updated_at: string;
}

export interface ServiceLivenessTable {
  /** random per process start */
  instance_id: string;
  kind: 'api' | 'daemon';
  pid: number;
  hostname: string;
  started_at: string;
  /** refreshed about once a second while the process runs (for the daemon: its last check) */
  heartbeat_at: string;
  /** set on graceful shutdown */
  stopped_at: string | null;
  /** API only: set when this instance started (or woke from a stall) while no API was live — ingest resumed then */
  ingest_resumed_at: string | null;
  /** how often this instance beats at the least (the daemon: its interval); null in rows from before migration 018 */
  beat_every_ms: ColumnType<number | null, number | null | undefined, number | null>;
  /** the process's identity (`ProcessIdentity`): the kernel boot, the pid namespace, the start time of the pid */
  boot_id: ColumnType<string | null, string | null | undefined, string | null>;
  pid_namespace: ColumnType<string | null, string | null | undefined, string | null>;
  process_started: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface EventsTable {
  /** unique event id (UUID); also the Standard Webhooks `webhook-id` */
  id: string;
  type: EventType;
  machine_id: number;
  user_id: number;
  occurred_at: string;
  /** the webhook body, compact JSON */
  payload: string;
  created_at: string;
  /** set when a quiet rule held the event back: recorded, delivered to nobody (migration 021) */
  suppressed: ColumnType<SuppressedReason | null, SuppressedReason | null | undefined, SuppressedReason | null>;
}

export interface DeliveriesTable {
  id: Generated<number>;
  event_id: string;
  /** copied from the event so per-(channel, machine) ordering is one index lookup */
  machine_id: number;
  channel: ChannelKind;
  /** webhooks.id or telegram_recipients.id */
  target_id: number;
  status: ColumnType<DeliveryStatus, DeliveryStatus | undefined, DeliveryStatus>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: string;
  claimed_until: string | null;
  claimed_by: string | null;
  last_error: string | null;
  /** the failure classes met so far, as a JSON array of strings; null before the first failure (migration 017) */
  failure_classes: ColumnType<string | null, string | null | undefined, string | null>;
  delivered_at: string | null;
  /** the receiver's own earliest time for the next attempt (Retry-After / retry_after); a success elsewhere never brings the row before it */
  retry_not_before: ColumnType<string | null, string | null | undefined, string | null>;
  /** Telegram: the message (telegram_digests.id) this row went or goes out in; rows sharing it went in one message (migration 020) */
  digest_id: ColumnType<number | null, number | null | undefined, number | null>;
  created_at: string;
  updated_at: string;
}

/** One Telegram message as planned before its send, so a resend is the same message (migration 020). */
export interface TelegramDigestsTable {
  id: Generated<number>;
  recipient_id: number;
  /** the HTML text sent */
  text: string;
  /** how many delivery rows the text was planned for */
  deliveries: number;
  created_at: string;
  /** when Telegram first accepted it; null until then */
  sent_at: ColumnType<string | null, string | null | undefined, string | null>;
}

/** What Telegram's limits and the digest window still say about one chat (migration 020). */
export interface TelegramChatPacingTable {
  recipient_id: number;
  /** when the chat last accepted a message from us: its digest window runs from here */
  last_message_at: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON array of recent send times (epoch ms), as many as a limit can still look at */
  recent_sends: ColumnType<string, string | undefined, string>;
  /** no send before this because Telegram answered 429 with retry_after */
  paused_until: ColumnType<string | null, string | null | undefined, string | null>;
  /** the earliest next send the per-chat limits and the pause allow */
  send_not_before: ColumnType<string | null, string | null | undefined, string | null>;
  /** the digest whose deliveries are still pending: the chat's next message is its resend */
  open_digest_id: ColumnType<number | null, number | null | undefined, number | null>;
  /** the daemon sending to this chat now, until when (a lease) */
  claimed_by: ColumnType<string | null, string | null | undefined, string | null>;
  claimed_until: ColumnType<string | null, string | null | undefined, string | null>;
  updated_at: string;
}

export interface MonitorStateTable {
  key: string;
  value: string;
  updated_at: string;
}

export interface MachineOfflineNotificationsTable {
  machine_id: number;
  /** when the outage was announced: the `occurred_at` of the event that told the channels */
  notified_at: string;
  /** reminders written for this outage (migration 021) */
  reminders_sent: ColumnType<number, number | undefined, number>;
  /** when the next `machine.still_offline` is due; null when none will be */
  next_reminder_at: ColumnType<string | null, string | null | undefined, string | null>;
}

/** One window; its schedule columns are those of {@link MaintenanceScheduleColumns} (one kind's filled, the other's null). */
export interface MaintenanceWindowsTable extends MaintenanceScheduleColumns {
  id: Generated<number>;
  user_id: number;
  name: string;
  /** 1: every machine of the user, including machines added later */
  all_machines: Flag;
  /** the next end the daemon has to act on (indexed); null when none is left */
  next_end_at: string | null;
  /** deleted by the user while an end was still to be acted on: gone once the daemon has */
  deleted_at: string | null;
  /** when the daemon next records occurrences of this window in the outage history (its next start; indexed); null when none is left (migration 024) */
  history_due_at: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: string;
  updated_at: string;
}

export interface MaintenanceWindowMachinesTable {
  window_id: number;
  machine_id: number;
}

/** An interval of the outage history: offline, or inside a maintenance window. */
export type OutageKind = 'outage' | 'maintenance';

export interface OutageHistoryTable {
  id: Generated<number>;
  machine_id: number;
  kind: OutageKind;
  started_at: string;
  /**
   * null while an outage lasts. A maintenance occurrence is recorded once it has started with its
   * planned end, which may be ahead of now (readers clip to now); deleting the window brings it to then.
   */
  ended_at: string | null;
  /** the window a `maintenance` interval is an occurrence of; null for outages and once the window is gone (migration 024) */
  window_id: ColumnType<number | null, number | null | undefined, number | null>;
}

/** A user's public status page (migration 023). */
export interface StatusPagesTable {
  user_id: number;
  /** the page's address, `/status/<slug>`: 144 random bits, base64url */
  slug: string;
  enabled: Flag;
  title: string;
  show_hostnames: Flag;
  created_at: string;
  updated_at: string;
}

/** A signed-in dashboard session (migration 023). */
export interface DashboardSessionsTable {
  /** hex SHA-256 of the session cookie's value; the value itself is never stored */
  id_hash: string;
  user_id: number;
  /** the personal token signed in with: revoking it ends the session */
  token_id: number;
  created_at: string;
  expires_at: string;
}

export interface Database {
  users: UsersTable;
  api_tokens: ApiTokensTable;
  machines: MachinesTable;
  machine_api_keys: MachineApiKeysTable;
  machine_metrics: MachineMetricsTable;
  webhooks: WebhooksTable;
  telegram_recipients: TelegramRecipientsTable;
  notification_preferences: NotificationPreferencesTable;
  service_liveness: ServiceLivenessTable;
  events: EventsTable;
  deliveries: DeliveriesTable;
  monitor_state: MonitorStateTable;
  machine_offline_notifications: MachineOfflineNotificationsTable;
  maintenance_windows: MaintenanceWindowsTable;
  maintenance_window_machines: MaintenanceWindowMachinesTable;
  telegram_digests: TelegramDigestsTable;
  telegram_chat_pacing: TelegramChatPacingTable;
  outage_history: OutageHistoryTable;
  status_pages: StatusPagesTable;
  dashboard_sessions: DashboardSessionsTable;
}

export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type Machine = Selectable<MachinesTable>;
export type NewMachine = Insertable<MachinesTable>;
export type MachineUpdate = Updateable<MachinesTable>;
export type Webhook = Selectable<WebhooksTable>;
export type NewWebhook = Insertable<WebhooksTable>;
export type TelegramRecipient = Selectable<TelegramRecipientsTable>;
export type NewTelegramRecipient = Insertable<TelegramRecipientsTable>;
export type NotificationPreferences = Selectable<NotificationPreferencesTable>;
export type ServiceLiveness = Selectable<ServiceLivenessTable>;
export type MachineEvent = Selectable<EventsTable>;
export type NewMachineEvent = Insertable<EventsTable>;
export type Delivery = Selectable<DeliveriesTable>;
export type NewDelivery = Insertable<DeliveriesTable>;
export type MaintenanceWindow = Selectable<MaintenanceWindowsTable>;
export type OutageInterval = Selectable<OutageHistoryTable>;
export type StatusPage = Selectable<StatusPagesTable>;
