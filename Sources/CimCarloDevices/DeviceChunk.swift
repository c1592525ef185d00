import CimCarloSupport

/// A run of consecutive devices of one mapped layer — at most `capacity`, whole weights or
/// reference devices — with the state the effects of each phase read and write. A chip is
/// simulated chunk by chunk, so its memory does not grow with its devices.
package final class DeviceChunk {
    /// Devices per chunk (a multiple of 8).
    package static let capacity = 4096

    /// Devices in the chunk.
    package var count = 0
    /// The chip-wide index of the first device: the counter of its draws.
    package var firstDevice = 0
    /// Normalised target level of each device, `(G − g_min) / (g_max − g_min)`.
    package let targets = DeviceBuffer<Float>(count: capacity)
    /// Fold coefficient of each weight device (`LayerMapping.encode`).
    package let coefficients = DeviceBuffer<Float>(count: capacity)
    /// Error of the first programming pulse (device-to-device plus cycle-to-cycle), units of the range.
    package let oneShotError = DeviceBuffer<Float>(count: capacity)
    /// 0 healthy, 1 stuck at g_min (SA0), 2 stuck at g_max (SA1).
    package let stuck = DeviceBuffer<UInt8>(count: capacity, zero: 0)
    /// Drift exponent ν.
    let driftExponent = DeviceBuffer<Float>(count: capacity)
    /// Normalised level after programming under the current policy.
    package let programmed = DeviceBuffer<Float>(count: capacity)
    /// Conductance in units of the range (g_min included while read-time effects run, then the
    /// normalised level read at the current time point).
    package let read = DeviceBuffer<Float>(count: capacity)
    /// Read-noise variance at the current time point, units of the range² (per-read noise).
    package let variance = DeviceBuffer<Float>(count: capacity)
    /// Scratch draws.
    package let draws = DeviceBuffer<Float>(count: capacity)
    package let extraDraws = DeviceBuffer<Float>(count: capacity)

    package init() {}

    /// Standard normal draws of `stream` for the chunk's devices, into `buffer`.
    func fillNormals(_ stream: CounterRandom, into buffer: DeviceBuffer<Float>) {
        stream.fillNormals(UnsafeMutableBufferPointer(start: buffer.base, count: count), firstCounter: firstDevice)
    }

    /// The chunk's devices eight at a time (the buffers are padded to whole lanes).
    package var lanes: StrideTo<Int> { stride(from: 0, to: count, by: 8) }
}

/// What every draw of a chip is keyed by: the study's seed and the instance; and the scale of
/// its random deviations — 1, or scaled-sigma sampling's s, the one rule by which every
/// effect's normal draws grow (`CounterRandom.scale`; stuck-at faults, drawn from uniforms,
/// follow `StuckAtFaults.scaledRate`).
package struct ChipDraws {
    let seed: UInt64
    let instance: Int
    package let scale: Float

    package init(seed: UInt64, instance: Int, scale: Float = 1) {
        self.seed = seed
        self.instance = instance
        self.scale = scale
    }

    package func stream(_ purpose: CounterRandom.Purpose, substream: Int = 0) -> CounterRandom {
        CounterRandom(seed: seed, instance: instance, purpose: purpose, substream: substream, scale: scale)
    }
}

/// An effect drawn once per device and chip (device-to-device variation, faults, drift exponents).
package protocol StaticEffect: AnyObject {
    /// Draws the chunk's static state; `chunk.targets` holds its targets.
    func sample(_ chunk: DeviceChunk, _ draws: ChipDraws)
}

/// An effect applied when the chip is read at a time point (drift, relaxation, per-chip read noise).
package protocol ReadTimeEffect: AnyObject {
    /// Computes what the chunk's reads share under every policy — its draws, per-level parameters
    /// and time factors — for the time points `times` (study index, seconds) it will be read at.
    /// Called once per chunk, when its targets and static state are set.
    func prepare(_ chunk: DeviceChunk, times: [(index: Int, seconds: Double)], _ draws: ChipDraws)
    /// Moves the conductances `chunk.read` (units of the range, g_min included) of devices programmed
    /// to `chunk.programmed` to what they read at time point `time` (`timeIndex` of the study, one
    /// of those prepared).
    func read(_ chunk: DeviceChunk, time: Double, timeIndex: Int)
}

/// Per-device parameters that depend only on the target level, evaluated once per level of a
/// multi-level cell's grid `k / (2^cellBits − 1)` and looked up per device; targets off the grid
/// (unquantised mappings, the offset encoding's ½ reference) are evaluated directly. Values are
/// `Float(parameter(Double(target)))` either way.
struct LevelTable {
    private let gridMax: Float
    /// The grid's normalised levels `l / gridMax` and the parameter at each.
    private let levels: [Float]
    private let values: [Float]
    private let parameter: @Sendable (Double) -> Double

    init(cellBits: Int, _ parameter: @escaping @Sendable (Double) -> Double) {
        gridMax = Float((1 << cellBits) - 1)
        let gridMax = gridMax
        levels = (0...Int(gridMax)).map { Float($0) / gridMax }
        values = levels.map { Float(parameter(Double($0))) }
        self.parameter = parameter
    }

    /// The parameter of each of the chunk's devices, into `output`.
    func fill(_ chunk: DeviceChunk, into output: DeviceBuffer<Float>) {
        let (targets, output) = (chunk.targets.base, output.base)
        levels.withUnsafeBufferPointer { levels in
            values.withUnsafeBufferPointer { values in
                guard levels.count <= 16 else {
                    for index in 0..<chunk.count {
                        let target = targets[index]
                        if target >= 0 && target <= 1 {
                            let level = Int(target * gridMax + 0.5)
                            if levels[level] == target {
                                output[index] = values[level]
                                continue
                            }
                        }
                        output[index] = Float(parameter(Double(target)))
                    }
                    return
                }
                // Small grids: eight devices at a time, matched against every level; lanes off
                // the grid are evaluated one by one.
                for index in chunk.lanes {
                    let target = VectorMath.load(targets, index)
                    var value = VectorMath.Lanes(repeating: 0)
                    var matched = SIMDMask<SIMD8<Int32>>(repeating: false)
                    for level in levels.indices {
                        let hit = target .== levels[level]
                        value.replace(with: values[level], where: hit)
                        matched .|= hit
                    }
                    VectorMath.store(value, output, index)
                    guard !all(matched) else { continue }
                    for device in index..<min(index + 8, chunk.count) where !matched[device - index] {
                        output[device] = Float(parameter(Double(targets[device])))
                    }
                }
            }
        }
    }
}
