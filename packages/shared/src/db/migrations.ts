import type { Migration } from 'kysely';
import * as m001_users from './migrations/001_users';
import * as m002_api_tokens from './migrations/002_api_tokens';
import * as m003_machines from './migrations/003_machines';
import * as m004_machine_api_keys from './migrations/004_machine_api_keys';
import * as m005_machine_metrics from './migrations/005_machine_metrics';
import * as m006_webhooks from './migrations/006_webhooks';
import * as m007_telegram_recipients from './migrations/007_telegram_recipients';
import * as m008_notification_preferences from './migrations/008_notification_preferences';
import * as m009_service_liveness from './migrations/009_service_liveness';
import * as m010_machines_status_last_seen_index from './migrations/010_machines_status_last_seen_index';
import * as m011_events from './migrations/011_events';
import * as m012_deliveries from './migrations/012_deliveries';
import * as m013_monitor_state from './migrations/013_monitor_state';
import * as m014_machine_offline_notifications from './migrations/014_machine_offline_notifications';
import * as m015_partial_indexes from './migrations/015_partial_indexes';
import * as m016_credential_revision from './migrations/016_credential_revision';
import * as m017_delivery_retry_not_before from './migrations/017_delivery_retry_not_before';
import * as m018_liveness_process_identity from './migrations/018_liveness_process_identity';
import * as m019_failure_tracking from './migrations/019_failure_tracking';
import * as m020_telegram_digests from './migrations/020_telegram_digests';
import * as m021_quiet_rules from './migrations/021_quiet_rules';
import * as m022_outage_history from './migrations/022_outage_history';
import * as m023_status_page_sessions from './migrations/023_status_page_sessions';
import * as m024_dashboard from './migrations/024_dashboard';

/** Every migration, by name. Names sort in the order they apply; never rename or reorder one. */
export const migrations: Record<string, Migration> = {
  '001_users': m001_users,
  '002_api_tokens': m002_api_tokens,
  '003_machines': m003_machines,
  '004_machine_api_keys': m004_machine_api_keys,
  '005_machine_metrics': m005_machine_metrics,
  '006_webhooks': m006_webhooks,
  '007_telegram_recipients': m007_telegram_recipients,
  '008_notification_preferences': m008_notification_preferences,
  '009_service_liveness': m009_service_liveness,
  '010_machines_status_last_seen_index': m010_machines_status_last_seen_index,
  '011_events': m011_events,
  '012_deliveries': m012_deliveries,
  '013_monitor_state': m013_monitor_state,
  '014_machine_offline_notifications': m014_machine_offline_notifications,
  '015_partial_indexes': m015_partial_indexes,
  '016_credential_revision': m016_credential_revision,
  '017_delivery_retry_not_before': m017_delivery_retry_not_before,
  '018_liveness_process_identity': m018_liveness_process_identity,
  '019_failure_tracking': m019_failure_tracking,
  '020_telegram_digests': m020_telegram_digests,
  '021_quiet_rules': m021_quiet_rules,
  '022_outage_history': m022_outage_history,
  '023_status_page_sessions': m023_status_page_sessions,
  '024_dashboard': m024_dashboard,
};
