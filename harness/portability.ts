/**
 * Portability check: WebAssembly arithmetic is deterministic, so the same
 * case, seed and variant must give bit-identical outputs on every device. The
 * runner reports an output checksum per result; any difference between two
 * runs of the same plan is a portability failure naming the case and variant.
 */
import type { RunResults } from '../core/contracts.js';
import { findVariant } from '../suites/variants.js';

export interface ChecksumMismatch {
  caseId: string;
  variant: string;
  a: { device: string; checksum: string };
  b: { device: string; checksum: string };
}

export interface PortabilityReport {
  compared: number;
  mismatches: ChecksumMismatch[];
  /** Pairs not compared, with why (different seed/shape, not timed on both, native code, results flagged non-portable). */
  skipped: number;
}

export function compareChecksums(a: RunResults, b: RunResults): PortabilityReport {
  const casesA = new Map(a.cases.map((c) => [c.id, c]));
  const casesB = new Map(b.cases.map((c) => [c.id, c]));
  const report: PortabilityReport = { compared: 0, mismatches: [], skipped: 0 };
  for (const ra of a.results) {
    const rb = b.results.find((x) => x.caseId === ra.caseId && x.variant === ra.variant);
    const ca = casesA.get(ra.caseId);
    const cb = casesB.get(ra.caseId);
    const sameInputs = ca && cb && ca.seed === cb.seed && ca.distribution === cb.distribution && JSON.stringify(ca.shape) === JSON.stringify(cb.shape);
    const suite = ca?.suite ?? '';
    // Timed results, and accuracy-only ones (checked, not timed), carry an output checksum.
    const accA = 'accuracy' in ra ? ra.accuracy : undefined;
    const accB = rb && 'accuracy' in rb ? rb.accuracy : undefined;
    const nonPortable = accA?.nonPortable !== undefined || accB?.nonPortable !== undefined;
    if (!rb || !sameInputs || !accA || !accB || nonPortable || findVariant(suite, ra.variant)?.nativeCode) {
      report.skipped++;
      continue;
    }
    report.compared++;
    if (accA.outputChecksum !== accB.outputChecksum) {
      report.mismatches.push({
        caseId: ra.caseId,
        variant: ra.variant,
        a: { device: a.device.name, checksum: accA.outputChecksum },
        b: { device: b.device.name, checksum: accB.outputChecksum },
      });
    }
  }
  return report;
}

export function describeMismatches(m: ChecksumMismatch[]): string {
  return m.map((x) => `output of ${x.variant} on ${x.caseId} differs: ${x.a.device} ${x.a.checksum} vs ${x.b.device} ${x.b.checksum}`).join('\n');
}
