import { dbSettings, durationSetting, logSettings, metricsSettings, notifySettings, type SettingsValues } from '@lunasentri/shared';

/** How often the monitor checks at the latest, and how long silence makes a machine offline. */
export const monitorSettings = {
  interval: durationSetting({
    flag: 'interval',
    env: 'MACHINE_HEARTBEAT_CHECK_INTERVAL',
    default: '30s',
    min: '100ms',
    doc: 'longest time between two checks (they also run when a machine is due to cross the threshold)',
  }),
  threshold: durationSetting({
    flag: 'threshold',
    env: 'MACHINE_OFFLINE_THRESHOLD',
    default: '2m',
    min: '1s',
    doc: 'silence after which an online machine is offline',
  }),
};

/** How Telegram notifications are grouped per chat (CONTRACT §6.1). */
export const digestSettings = {
  telegramGroupWindow: durationSetting({
    env: 'TELEGRAM_GROUP_WINDOW',
    default: '10s',
    zeroMeansOff: true,
    max: '1h',
    doc: 'a Telegram chat that just got a message gets what becomes due within this window as one message at its end; 0s sends every notification on its own',
  }),
};

/** Everything `lunasentri-heartbeat run` reads. */
export const runSettings = { ...dbSettings, ...monitorSettings, ...metricsSettings, ...logSettings, ...notifySettings, ...digestSettings };
export type RunSettings = SettingsValues<typeof runSettings>;

/** Everything `lunasentri-heartbeat status` reads. */
export const statusSettings = { ...dbSettings };
export type StatusSettings = SettingsValues<typeof statusSettings>;
