// mulberry32: a small seeded pseudo-random generator, so a test's or a trial's inputs follow
// from its seed (shared by the crash trials, their worker process and the big-log test).

/** A generator of numbers in [0, 1) determined by `seed`. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
