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

/** Everything `lunasentri-heartbeat run` reads. */
export const runSettings = { ...dbSettings, ...monitorSettings, ...metricsSettings, ...logSettings, ...notifySettings };
export type RunSettings = SettingsValues<typeof runSettings>;

/** Everything `lunasentri-heartbeat status` reads. */
export const statusSettings = { ...dbSettings };
export type StatusSettings = SettingsValues<typeof statusSettings>;
