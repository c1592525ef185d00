internal import CKernels

/// Philox-4×32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as easy as 1, 2, 3",
/// SC 2011): a counter-based generator whose 128-bit output is a bijection of the 128-bit
/// counter under a 64-bit key, passing TestU01's BigCrush. The sampler (`CounterRandom`) runs
/// it eight blocks at a time in `Sources/CKernels/sampler.c`; this is one block of the same code.
enum Philox {
    /// The four output words of block `counter` under `key`.
    static func block(_ counter: [UInt32], key: (UInt32, UInt32)) -> [UInt32] {
        precondition(counter.count == 4)
        var output = [UInt32](repeating: 0, count: 4)
        cimcarlo_philox(counter, key.0, key.1, &output)
        return output
    }
}
