import CimCarloDevices
import CimCarloNetwork
import CimCarloSupport
import Foundation

/// Per-read noise on the crossbar products of effective-weight passes
/// (`NetworkWorkspace.productEffect`, `addNoise`).
///
/// With independent device read noise, a product's outputs for input row `x` are
/// `y_j = ŷ_j + N(0, Σ_i x_i² V_ij)`, independent over j, where `V_ij = Σ_d c_d² σ_d²` sums
/// the read-noise variances of weight (i, j)'s devices times their fold coefficients squared.
/// One more sgemm, of the squared inputs against V, gives every output's variance. With the
/// offset encoding, the reference device of row i in column tile t is shared by the tile's
/// columns, so its noise is one draw per input row and tile, `N(0, Σ_i x_i² R_ti)`, scaled by
/// each column's reference scale: exact as well.
///
/// Draws come from `stream` at a running counter per layer, reset by `select`, so a pass's
/// noise depends only on (seed, instance, pass) and the order of the test images.
package final class ReadNoiseProduct: InferenceBackend {
    let mapping: CrossbarMapping
    private let mappedIndex: [Int?]
    private let rowOrder: [[Int]]
    /// The variances of one pass.
    private struct PassVariances {
        /// Per mapped layer: `V[column · rows + product row]`, weight units².
        var weight: [DeviceBuffer<Float>]
        /// Per mapped layer with the offset encoding: `R[tile · rows + product row]`, weight units²
        /// before the column's reference scale.
        var reference: [DeviceBuffer<Float>]
        /// Per mapped layer: the reference scale of each column times its compensation factor.
        var referenceScale: [[Float]]
        /// Per mapped layer: whether any variance is loaded (off when the noise vanishes, e.g. at
        /// t = 0 with 1/f).
        var active: [Bool]
    }
    private var passes: [PassVariances]
    /// The pass the products are drawn for (`select`).
    private var pass = 0
    private let squared: UnsafeMutableBufferPointer<Float>
    private let variances: UnsafeMutableBufferPointer<Float>
    private let draws: UnsafeMutableBufferPointer<Float>
    private var noise: ProductNoise
    private var referenceStream = CounterRandom(seed: 0, instance: 0, purpose: .productNoise)
    private var referenceCounters: [Int]

    /// Per-read noise for `passes` passes of `network`.
    package init(network: Network, mapping: CrossbarMapping, batchCapacity: Int, passes: Int) throws {
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
        self.passes = (0..<passes).map { _ in
            PassVariances(
                weight: mapping.layers.map { DeviceBuffer(count: $0.weightCount) },
                reference: mapping.layers.map { layer in
                    DeviceBuffer(
                        count: layer.hasReference
                            ? (layer.referenceTile(ofColumn: layer.columns - 1) + 1) * layer.rows : 0)
                },
                referenceScale: mapping.layers.map { Array(repeating: 0, count: $0.hasReference ? $0.columns : 0) },
                active: Array(repeating: false, count: mapping.layers.count))
        }
        squared = .allocateZeroed(largestInput)
        variances = .allocateZeroed(max(largestOutput, largestReference))
        draws = .allocateZeroed(max(largestOutput, largestReference))
        noise = ProductNoise(layers: mapping.layers.count, largestOutput: largestOutput)
        referenceCounters = Array(repeating: 0, count: mapping.layers.count)
    }

    deinit {
        squared.deallocate()
        variances.deallocate()
        draws.deallocate()
    }

    /// Clears pass `pass`'s variances of layer `layerIndex`; `active`: whether the noise is on.
    package func startLayer(_ layerIndex: Int, pass: Int, readNoise active: Bool) {
        passes[pass].active[layerIndex] = active
        guard active else { return }
        let reference = passes[pass].reference[layerIndex]
        reference.base.update(repeating: 0, count: reference.count)
    }

    /// Adds the read-noise variances of the chunk's weight devices (`chunk.variance`, units of the
    /// range², the weights from `firstWeight` on) to pass `pass`: `V = Σ_d c_d² σ_d²` per weight.
    package func store(
        _ chunk: DeviceChunk, pass: Int, layer layerIndex: Int, firstWeight: Int, levels: DeviceBuffer<Float>
    ) {
        guard passes[pass].active[layerIndex] else { return }
        let layer = mapping.layers[layerIndex]
        let perWeight = layer.devicesPerWeight
        let order = rowOrder[layerIndex]
        let weight = passes[pass].weight[layerIndex]
        for slot in 0..<(chunk.count / perWeight) {
            let (column, row) = (firstWeight + slot).quotientAndRemainder(dividingBy: layer.rows)
            var sum: Float = 0
            for device in (slot * perWeight)..<((slot + 1) * perWeight) {
                sum += chunk.coefficients[device] * chunk.coefficients[device] * chunk.variance[device]
            }
            weight[column * layer.rows + order[row]] = sum
        }
    }

    /// Adds the variances of the chunk's reference devices (the layer's reference devices from
    /// `firstDevice` on) to pass `pass`: `R = Σ_j (B^j (B − 1))² σ_j²` per tile and row.
    package func storeReference(_ chunk: DeviceChunk, pass: Int, layer layerIndex: Int, firstDevice: Int) {
        guard passes[pass].active[layerIndex] else { return }
        let layer = mapping.layers[layerIndex]
        let order = rowOrder[layerIndex]
        let reference = passes[pass].reference[layerIndex]
        for slot in 0..<chunk.count {
            let (tileRow, slice) = (firstDevice + slot).quotientAndRemainder(dividingBy: layer.slices)
            let (tile, row) = tileRow.quotientAndRemainder(dividingBy: layer.rows)
            let weight = layer.referenceSliceWeights[slice]
            reference[tile * layer.rows + order[row]] += weight * weight * chunk.variance[slot]
        }
    }

    /// Scales pass `pass`'s variances of layer `layerIndex` by the squared compensation factors.
    package func finishLayer(_ layerIndex: Int, pass: Int, factors: [Float]?) {
        let layer = mapping.layers[layerIndex]
        if let factors, passes[pass].active[layerIndex] {
            let weight = passes[pass].weight[layerIndex]
            for column in 0..<layer.columns {
                for row in 0..<layer.rows {
                    weight[column * layer.rows + row] =
                        weight[column * layer.rows + row] * factors[column] * factors[column]
                }
            }
        }
        guard layer.hasReference else { return }
        for column in 0..<layer.columns {
            passes[pass].referenceScale[layerIndex][column] =
                layer.referenceColumnScales[column] * (factors?[column] ?? 1)
        }
    }

    /// Loads every layer's device read-noise variances (units of the range², the layout of
    /// `LayerMapping.targets`) into pass 0 and selects it, its draws from `stream`.
    func load(_ deviceVariances: [UnsafeMutableBufferPointer<Float>], stream: CounterRandom) {
        let chunk = DeviceChunk()
        for (index, layer) in mapping.layers.enumerated() {
            startLayer(index, pass: 0, readNoise: true)
            for weights in layer.weightChunks {
                let devices = layer.devices(of: weights)
                chunk.count = devices.count
                layer.encode(weights: weights, targets: chunk.targets.base, coefficients: chunk.coefficients.base)
                chunk.variance.base.update(
                    from: deviceVariances[index].baseAddress! + devices.lowerBound, count: chunk.count)
                store(chunk, pass: 0, layer: index, firstWeight: weights.lowerBound, levels: chunk.read)
            }
            for devices in layer.referenceChunks {
                chunk.count = devices.count
                chunk.variance.base.update(
                    from: deviceVariances[index].baseAddress! + devices.lowerBound, count: chunk.count)
                storeReference(chunk, pass: 0, layer: index, firstDevice: devices.lowerBound - layer.weightDeviceCount)
            }
            finishLayer(index, pass: 0, factors: nil)
        }
        select(pass: 0, stream: stream)
    }

    /// Draws the products that follow for pass `pass`, from `stream` restarted.
    package func select(pass: Int, stream: CounterRandom) {
        self.pass = pass
        noise.restart(stream)
        referenceStream = CounterRandom(
            seed: stream.key, instance: 0, purpose: .productNoise, substream: 1, scale: stream.scale)
        referenceCounters = referenceCounters.map { _ in 0 }
    }

    package func install(on workspace: NetworkWorkspace, after effects: ProductEffect?) {
        workspace.productEffect = { [unowned self] node, group, input, rows, inner, weights, output, outputs, stride in
            effects?(node, group, input, rows, inner, weights, output, outputs, stride)
            self.addNoise(
                node: node, group: group, input: input, rows: rows, inner: inner, output: output, outputs: outputs,
                outputStride: stride)
        }
    }

    /// Adds the read noise of group `group` of node `node`'s product (`MatrixProduct` arguments).
    package func addNoise(
        node: Int, group: Int, input: UnsafePointer<Float>, rows: Int, inner: Int,
        output: UnsafeMutablePointer<Float>, outputs: Int, outputStride: Int
    ) {
        guard let index = mappedIndex[node], passes[pass].active[index] else { return }
        let layer = mapping.layers[index]
        let (weightVariance, referenceVariance) = (passes[pass].weight[index], passes[pass].reference[index])
        let firstColumn = group * outputs
        for element in 0..<(rows * inner) { squared[element] = input[element] * input[element] }
        BLAS.gemm(
            transposeB: true, m: rows, n: outputs, k: inner, a: squared.baseAddress!, lda: inner,
            b: weightVariance.base + firstColumn * inner, ldb: inner,
            c: variances.baseAddress!, ldc: outputs)
        noise.add(
            variances: variances.baseAddress!, rows: rows, outputs: outputs, layer: index, to: output,
            outputStride: outputStride)
        guard layer.hasReference else { return }
        // One draw per input row and column tile of the group's columns, shared by the tile's columns.
        let firstTile = layer.referenceTile(ofColumn: firstColumn)
        let tiles = layer.referenceTile(ofColumn: firstColumn + outputs - 1) - firstTile + 1
        BLAS.gemm(
            transposeB: true, m: rows, n: tiles, k: inner, a: squared.baseAddress!, lda: inner,
            b: referenceVariance.base + firstTile * inner, ldb: inner,
            c: variances.baseAddress!, ldc: tiles)
        referenceStream.fillNormals(
            UnsafeMutableBufferPointer(rebasing: draws[0..<(rows * tiles)]), firstCounter: referenceCounters[index])
        referenceCounters[index] += rows * tiles
        for row in 0..<rows {
            for column in 0..<outputs {
                let tile = layer.referenceTile(ofColumn: firstColumn + column) - firstTile
                let element = row * tiles + tile
                output[row * outputStride + column] -=
                    passes[pass].referenceScale[index][firstColumn + column] * max(variances[element], 0).squareRoot()
                    * draws[element]
            }
        }
    }
}
