// Loaded with `--import` into a process under test: shifts its wall clock (Date) by
// HOOKRELAY_TEST_CLOCK_SKEW_MS, as a machine with a drifting clock would have. Monotonic time
// (performance.now) is left alone, as it is on a real machine.
const skew = Number(process.env.HOOKRELAY_TEST_CLOCK_SKEW_MS ?? 0);
if (skew !== 0) {
  const RealDate = globalThis.Date;
  class SkewedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + skew);
      else super(...args);
    }
    static now() {
      return RealDate.now() + skew;
    }
  }
  globalThis.Date = SkewedDate;
}
