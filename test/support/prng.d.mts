/** mulberry32: a generator of numbers in [0, 1) determined by `seed`. */
export declare function prng(seed: number): () => number;
