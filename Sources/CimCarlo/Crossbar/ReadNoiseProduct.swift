import Foundation

/// Per-read noise on the crossbar products of effective-weight passes
/// (`NetworkWorkspace.productNoise`).
///
/// With independent device read noise, a product's outputs for input row `x` are
/// `y_j = ŷ_j + N(0, Σ_i x_i² V_ij)`, independent over j, where `V_ij = Σ_d c_d² σ_d²` sums
/// the read-noise variances of weight (i, j)'s devices times their fold coefficients squared.
/// One more sgemm, of the squared inputs against V, gives every output's variance. With the
/// offset encoding, the reference device of row i in column tile t is shared by the tile's
/// columns, so its noise is one draw per input row and tile, `N(0, Σ_i x_i² R_ti)`, scaled by
/// each column's reference scale: exact as well.
///
/// Draws come from `stream` at a running counter per layer, reset by `load`, so a pass's
/// noise depends only on (seed, instance, pass) and the order of the test images.
final class ReadNoiseProduct {
    let mapping: CrossbarMapping
    private let mappedIndex: [Int?]
    private let rowOrder: [[Int]]
    /// Per mapped layer: `V[column · rows + product row]`, weight units².
    private var weightVariance: [UnsafeMutableBufferPointer<Float>]
    /// Per mapped layer with the offset encoding: `R[tile · rows + product row]`, weight units²
    /// before the column's reference scale.
    private var referenceVariance: [UnsafeMutableBufferPointer<Float>]
    /// Per mapped layer: the reference scale of each column times its compensation factor.
    private var referenceScale: [[Float]]
    private let squared: UnsafeMutableBufferPointer<Float>
    private let variances: UnsafeMutableBufferPointer<Float>
    private let draws: UnsafeMutableBufferPointer<Float>
    private var stream = CounterRandom(seed: 0, instance: 0, purpose: .productNoise)
    private var referenceStream = CounterRandom(seed: 0, instance: 0, purpose: .productNoise)
    private var counters: [Int]
    private var referenceCounters: [Int]
    /// Whether any variance is loaded (off when the noise vanishes, e.g. at t = 0 with 1/f).
    private(set) var isActive = false

    init(network: Network, mapping: CrossbarMapping, batchCapacity: Int) throws {
        self.mapping = mapping
        mappedIndex = mapping.mappedLayerIndices(of: network)
        var largestInput = 1
        var largestOutput = 1
        var largestReference = 1
        for (layer, rows) in zip(mapping.layers, try mapping.productRows(of: network, batchCapacity: batchCapacity)) {
            largestInput = max(largestInput, rows * layer.rows)
            largestOutput = max(largestOutput, rows * layer.columns / layer.groups)
            largestReference = max(largestReference, rows * layer.arrays)
        }
        rowOrder = mapping.layers.map { network.crossbarOperation(ofNode: $0.nodeIndex)!.productRowOrder }
        weightVariance = mapping.layers.map { .allocateZeroed($0.weightCount) }
        referenceVariance = mapping.layers.map { layer in
            .allocateZeroed(
                layer.hasReference ? (layer.referenceTile(ofColumn: layer.columns - 1) + 1) * layer.rows : 0)
        }
        referenceScale = mapping.layers.map { Array(repeating: 0, count: $0.hasReference ? $0.columns : 0) }
        squared = .allocateZeroed(largestInput)
        variances = .allocateZeroed(max(largestOutput, largestReference))
        draws = .allocateZeroed(max(largestOutput, largestReference))
        counters = Array(repeating: 0, count: mapping.layers.count)
        referenceCounters = counters
    }

    deinit {
        weightVariance.forEach { $0.deallocate() }
        referenceVariance.forEach { $0.deallocate() }
        squared.deallocate()
        variances.deallocate()
        draws.deallocate()
    }

    /// Loads each device's read-noise variance (units of the range², the layout of
    /// `LayerMapping.targets`; nil: no noise) and the per-column compensation factors, and
    /// restarts the draws of `stream`.
    func load(_ deviceVariances: [UnsafeMutableBufferPointer<Float>]?, factors: [[Float]]?, stream: CounterRandom) {
        self.stream = stream
        referenceStream = CounterRandom(seed: stream.key, instance: 0, purpose: .productNoise, substream: 1)
        counters = counters.map { _ in 0 }
        referenceCounters = counters
        isActive = deviceVariances != nil
        guard let deviceVariances else { return }
        for (index, layer) in mapping.layers.enumerated() {
            let source = deviceVariances[index]
            let order = rowOrder[index]
            let perWeight = layer.devicesPerWeight
            layer.coefficients.withUnsafeBufferPointer { coefficients in
                for column in 0..<layer.columns {
                    let factor = factors?[index][column] ?? 1
                    for row in 0..<layer.rows {
                        let first = (column * layer.rows + row) * perWeight
                        var sum: Float = 0
                        for device in first..<(first + perWeight) {
                            sum += coefficients[device] * coefficients[device] * source[device]
                        }
                        weightVariance[index][column * layer.rows + order[row]] = sum * factor * factor
                    }
                }
            }
            guard layer.hasReference else { continue }
            for column in 0..<layer.columns {
                referenceScale[index][column] = layer.referenceColumnScales[column] * (factors?[index][column] ?? 1)
            }
            let tiles = referenceVariance[index].count / layer.rows
            for tile in 0..<tiles {
                for row in 0..<layer.rows {
                    let first = layer.weightDeviceCount + (tile * layer.rows + row) * layer.slices
                    var sum: Float = 0
                    for slice in 0..<layer.slices {
                        let weight = layer.referenceSliceWeights[slice]
                        sum += weight * weight * source[first + slice]
                    }
                    referenceVariance[index][tile * layer.rows + order[row]] = sum
                }
            }
        }
    }

    /// Adds the read noise of group `group` of node `node`'s product (`MatrixProduct` arguments).
    func addNoise(
        node: Int, group: Int, input: UnsafePointer<Float>, rows: Int, inner: Int,
        output: UnsafeMutablePointer<Float>, outputs: Int, outputStride: Int
    ) {
        guard isActive, let index = mappedIndex[node] else { return }
        let layer = mapping.layers[index]
        let firstColumn = group * outputs
        for element in 0..<(rows * inner) { squared[element] = input[element] * input[element] }
        BLAS.gemm(
            transposeB: true, m: rows, n: outputs, k: inner, a: squared.baseAddress!, lda: inner,
            b: weightVariance[index].baseAddress! + firstColumn * inner, ldb: inner,
            c: variances.baseAddress!, ldc: outputs)
        let count = rows * outputs
        stream.fillNormals(UnsafeMutableBufferPointer(rebasing: draws[0..<count]), firstCounter: counters[index])
        counters[index] += count
        for row in 0..<rows {
            for column in 0..<outputs {
                let element = row * outputs + column
                output[row * outputStride + column] += max(variances[element], 0).squareRoot() * draws[element]
            }
        }
        guard layer.hasReference else { return }
        // One draw per input row and column tile of the group's columns, shared by the tile's columns.
        let firstTile = layer.referenceTile(ofColumn: firstColumn)
        let tiles = layer.referenceTile(ofColumn: firstColumn + outputs - 1) - firstTile + 1
        BLAS.gemm(
            transposeB: true, m: rows, n: tiles, k: inner, a: squared.baseAddress!, lda: inner,
            b: referenceVariance[index].baseAddress! + firstTile * inner, ldb: inner,
            c: variances.baseAddress!, ldc: tiles)
        referenceStream.fillNormals(
            UnsafeMutableBufferPointer(rebasing: draws[0..<(rows * tiles)]), firstCounter: referenceCounters[index])
        referenceCounters[index] += rows * tiles
        for row in 0..<rows {
            for column in 0..<outputs {
                let tile = layer.referenceTile(ofColumn: firstColumn + column) - firstTile
                let element = row * tiles + tile
                output[row * outputStride + column] -=
                    referenceScale[index][firstColumn + column] * max(variances[element], 0).squareRoot()
                    * draws[element]
            }
        }
    }
}
