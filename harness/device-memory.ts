/**
 * The memory check on the host, before anything is shipped: a case that states how much memory it needs
 * (a network's estimate, CaseSpec.model.memory: suites/models/memory.ts) is skipped with the reason on a
 * device that cannot hold it, using what the host knows of the device:
 *
 * - `local`: this machine's memory (os.totalmem()): the payload runs here;
 * - another device: the memory probed in its latest run in the history store (read-only), said so;
 * - nothing known (a device never run): no host check; the device checks its own probed memory before
 *   it runs the case (suites/models/measure.ts), so the run is safe either way.
 *
 * The test fault `deviceMemoryBytes` (ROOFBENCH_TEST_FAULTS) stands for the device's memory here too.
 */
import { totalmem } from 'node:os';
import { Probe, type CaseResult, type Plan } from '../core/contracts.js';
import { graphCost } from '../reference/graph-cost.js';
import { memorySkipReason } from '../suites/models/memory.js';
import type { Device } from './devices.js';
import { newestRunWith } from './history/newest.js';

export interface DeviceMemory {
  bytes: number;
  /** Where the figure comes from, in words (shown in the skip reason). */
  source: string;
}

/** The memory probed in `device`'s latest run in the history store at `file` that recorded a probe, or null. */
export function probedMemory(file: string, device: string): DeviceMemory | null {
  // An unreadable store: no host check (the device still checks).
  const { found } = newestRunWith(file, device, 'probe_json', (json) => {
    const p = Probe.safeParse(json);
    return p.success && p.data.memory.totalBytes > 0 ? p.data.memory.totalBytes : null;
  });
  return found && { bytes: found.value, source: `probed in its run ${found.runId} of ${found.startedAt.slice(0, 10)}, from the history` };
}

/** What the host knows of the device's memory (see the module comment), or null. */
export function deviceMemory(device: Pick<Device, 'name' | 'transport'>, historyFile: string, plan: Pick<Plan, 'faults'>): DeviceMemory | null {
  const fault = plan.faults?.deviceMemoryBytes;
  if (fault !== undefined) return { bytes: fault, source: 'test fault deviceMemoryBytes' };
  if (device.transport === 'local') return { bytes: totalmem(), source: 'this machine' };
  return probedMemory(historyFile, device.name);
}

/**
 * The plan's cases a device with `memory` cannot hold: per case, a skipped result for each of its
 * variants with the reason (checked on the host, before shipping). `variantInfo` names each variant's
 * algorithm and dtype.
 */
export function memorySkips(
  plan: Pick<Plan, 'items'>,
  memory: DeviceMemory,
  variantInfo: (suite: string, name: string) => { algorithm: string; dtype: string },
): { caseId: string; results: CaseResult[] }[] {
  const out: { caseId: string; results: CaseResult[] }[] = [];
  for (const item of plan.items) {
    const c = item.caseSpec;
    const need = c.model?.memory;
    if (!need) continue;
    const reason = memorySkipReason(c.graph.name, need, memory.bytes, `${memory.source}; checked on the host before shipping`);
    if (reason === null) continue;
    const gc = graphCost(c.graph, 4);
    out.push({
      caseId: c.id,
      results: item.variants.map((variant) => ({
        caseId: c.id,
        variant,
        ...variantInfo(c.suite, variant),
        cost: { flops: gc.flops, bytes: gc.bytes, intensity: gc.intensity },
        state: 'skipped' as const,
        reason,
      })),
    });
  }
  return out;
}
