import CimCarloDevices
import CimCarloSupport

/// The draws of per-read noise on products, shared by the effective-weight (`ReadNoiseProduct`)
/// and tile (`TileSimulator`) backends: a product's outputs get `√max(v, 0) · z` for their
/// variances v, with z from the pass's stream at a running counter per mapped layer, so a
/// pass's noise depends only on (seed, instance, pass) and the order of the products.
struct ProductNoise {
    private var stream = CounterRandom(seed: 0, instance: 0, purpose: .productNoise)
    private var counters: [Int]
    private var draws: DeviceBuffer<Float>

    /// For `layers` mapped layers and products of at most `largestOutput` outputs.
    init(layers: Int, largestOutput: Int) {
        counters = Array(repeating: 0, count: layers)
        draws = DeviceBuffer(count: largestOutput)
    }

    /// Restarts the draws from `stream`.
    mutating func restart(_ stream: CounterRandom) {
        self.stream = stream
        counters = counters.map { _ in 0 }
    }

    /// Draws `count` normals for mapped layer `layer` at its running counter, into `draws`.
    mutating func draw(_ count: Int, layer: Int) -> UnsafePointer<Float> {
        if draws.count < count { draws = DeviceBuffer(count: count) }
        stream.fillNormals(UnsafeMutableBufferPointer(start: draws.base, count: count), firstCounter: counters[layer])
        counters[layer] += count
        return UnsafePointer(draws.base)
    }

    /// Adds `√max(v, 0) · z` to `output[row · outputStride + column]` for the variances `variances`
    /// (`[rows × outputs]`) of mapped layer `layer`'s product.
    mutating func add(
        variances: UnsafePointer<Float>, rows: Int, outputs: Int, layer: Int, to output: UnsafeMutablePointer<Float>,
        outputStride: Int
    ) {
        let z = draw(rows * outputs, layer: layer)
        for row in 0..<rows {
            for column in 0..<outputs {
                let element = row * outputs + column
                output[row * outputStride + column] += max(variances[element], 0).squareRoot() * z[element]
            }
        }
    }
}
