/** The machine a benchmark ran on, written with every result so that runs can be compared. */
import { cpus, loadavg, release, totalmem } from 'node:os';

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  node: string;
  os: string;
  /** 1-minute load average when the benchmark started: other work on the machine skews timings */
  loadAvg1m: number;
}

export function machine(): Machine {
  const c = cpus();
  return {
    cpuModel: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memoryBytes: totalmem(),
    node: process.version,
    os: `${process.platform} ${release()}`,
    loadAvg1m: Math.round(loadavg()[0]! * 100) / 100,
  };
}
