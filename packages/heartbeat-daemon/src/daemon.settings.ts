import { dbSettings, durationSetting, integerSetting, logSettings, metricsSettings, notifySettings, type FlapSettings, type SettingsValues } from '@lunasentri/shared';

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

/** Flapping (CONTRACT §6.2): how many status changes within how long, and how long a status must hold to end it. */
export const flapSettings = {
  flapThreshold: integerSetting({
    flag: 'flap-threshold',
    env: 'FLAP_THRESHOLD',
    default: 5,
    min: 0,
    max: 1000,
    doc: 'status changes within the flap window that make a machine flapping (0 = off)',
  }),
  flapWindow: durationSetting({
    flag: 'flap-window',
    env: 'FLAP_WINDOW',
    default: '30m',
    min: '1s',
    doc: 'how far back status changes count towards flapping',
  }),
  flapSettle: durationSetting({
    flag: 'flap-settle',
    env: 'FLAP_SETTLE',
    default: '5m',
    min: '1s',
    doc: 'how long a flapping machine must keep one status to stop flapping',
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
export const runSettings = { ...dbSettings, ...monitorSettings, ...flapSettings, ...metricsSettings, ...logSettings, ...notifySettings, ...digestSettings };
export type RunSettings = SettingsValues<typeof runSettings>;

/** The flapping rule's settings as the sweep takes them. */
export function flapSettingsOf(settings: SettingsValues<typeof flapSettings>): FlapSettings {
  return { threshold: settings.flapThreshold, windowMs: settings.flapWindow, settleMs: settings.flapSettle };
}

/** Everything `lunasentri-heartbeat status` reads. */
export const statusSettings = { ...dbSettings };
export type StatusSettings = SettingsValues<typeof statusSettings>;
