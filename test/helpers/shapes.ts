import type { ConvShape } from '../../core/contracts.js';

/** A conv shape from the fields given; the rest are those of a 1x1x1 input, one 1x1 filter, stride 1, no padding. */
export const convShape = (p: Partial<ConvShape>): ConvShape => ({
  n: 1,
  c: 1,
  h: 1,
  w: 1,
  k: 1,
  r: 1,
  s: 1,
  stride: 1,
  pad: 0,
  groups: 1,
  ...p,
});
