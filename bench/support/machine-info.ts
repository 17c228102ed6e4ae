import { cpus, totalmem } from 'node:os';

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  totalMemoryMb: number;
  node: string;
  platform: string;
}

/** What a reader needs to compare our figures with theirs. */
export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cores: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    totalMemoryMb: Math.round(totalmem() / 1024 / 1024),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}
