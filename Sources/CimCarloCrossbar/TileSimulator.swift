import CimCarloDevices
import CimCarloNetwork
import CimCarloSupport
import Foundation

/// Tile-accurate crossbar arithmetic for the weight layers of one network (one per worker).
///
/// Each mapped layer's matrix is held as one conductance matrix per slice and side of the
/// pair, `D[column, row] = ±x` (normalised conductance, the sign of a sign-magnitude weight
/// applied to its cell), and scaled back to weights by `κ[column]` (`s / L · B^j (B − 1)`).
/// For an input matrix `A` the layer computes, per row tile of `arrayRows` word lines:
///
/// - DAC: inputs split into positive and negative parts, each quantised to `dacBits` over
///   the calibrated input range, applied `dacBitsPerCycle` bits at a time (bit-serial planes);
/// - partial sums `P = plane · D_tileᵀ` per slice and side (sgemm);
/// - ADC per slice and side (`slice`), or after analog shift-and-add of the slices and the
///   differential subtraction (`merged`), with `adcBits` over a fixed, calibrated or
///   per-column range, clipping outside it;
/// - digital shift-and-add: `output += ω · α · κ · ADC(P)`, summed over planes and tiles.
///
/// With ideal converters this is the effective-weight product, up to float rounding.
///
/// Per-read noise (the variances a pass stores, `store`) adds to every partial sum, before its
/// ADC, `N(0, plane² · Varᵀ)` from the devices' read-noise variances (one more sgemm per slice
/// and side; merged: the slices' variances weighted by their shift-and-add factors squared).
package final class TileSimulator: InferenceBackend {
    let mapping: CrossbarMapping
    let periphery: PeripheryConfiguration
    let arrayRows: Int
    /// Mapped layer index of each network node (nil for nodes without crossbar weights).
    private let mappedIndex: [Int?]
    /// Per pass and mapped layer: conductance matrices `[slice · sides + side][columns × rows]`.
    private var conductances: [[[DeviceBuffer<Float>]]]
    /// The pass being evaluated (`select`): its conductances, read-noise variances and compensation.
    private var pass = 0
    /// Per mapped layer: `κ[slice · sides + side][column]`.
    private var kappa: [[[Float]]]
    /// Per mapped layer: where PyTorch row `k` of the weight matrix sits in the product's
    /// input order (conv2d patches are `(ky, kx, channel)`).
    private let rowOrder: [[Int]]
    /// Drift compensation per pass, mapped layer and column (1 = none).
    private var compensations: [[[Float]]]
    /// Calibrated input range per mapped layer (max |input|).
    private(set) var inputRange: [Float]
    /// ADC range per mapped layer and column: low and high.
    private(set) var adcLow: [[Float]]
    private(set) var adcHigh: [[Float]]
    /// IR drop on every array's partial sums (nil: none).
    private let irDrop: IRDropProduct?
    /// Quantisation scale 1 for every column: the conductance matrices are levels.
    private let unitScales: [Float]
    /// Whether passes record ranges (calibration) instead of converting.
    private var calibrating = false
    private var plane: UnsafeMutableBufferPointer<Float>
    private var partial: UnsafeMutableBufferPointer<Float>
    private var merged: UnsafeMutableBufferPointer<Float>
    private var columnFactors: UnsafeMutableBufferPointer<Float>
    /// Per-read noise: per pass and mapped layer, read-noise variances `[unit][columns × rows]`
    /// (empty when off), whether each pass has them, the squared plane, the partial sums'
    /// variances, draws and running counters.
    private var variances: [[[DeviceBuffer<Float>]]]
    private var readNoiseInPass: [Bool]
    private var squaredPlane: UnsafeMutableBufferPointer<Float>
    private var partialVariance: UnsafeMutableBufferPointer<Float>
    private var noise: ProductNoise
    private var readNoiseActive = false
    /// The largest product input and output (floats), for the per-read buffers made on first use.
    private let largestProductInput: Int
    private let largestProductOutput: Int

    /// Tile-accurate arithmetic for `passes` passes of `network`.
    package init(
        network: Network, mapping: CrossbarMapping, periphery: PeripheryConfiguration, batchCapacity: Int,
        passes: Int = 1, irDrop: IRDropProduct? = nil
    ) throws {
        self.irDrop = irDrop
        unitScales = Array(repeating: 1, count: mapping.layers.map(\.columns).max() ?? 1)
        self.mapping = mapping
        self.periphery = periphery
        arrayRows = mapping.configuration.arrayRows
        mappedIndex = mapping.mappedLayerIndices(of: network)
        var largestInput = 1
        var largestOutput = 1
        for (layer, rows) in zip(mapping.layers, try mapping.productRows(of: network, batchCapacity: batchCapacity)) {
            largestInput = max(largestInput, rows * layer.rows)
            largestOutput = max(largestOutput, rows * layer.columns / layer.groups)
        }
        rowOrder = mapping.layers.map { network.crossbarOperation(ofNode: $0.nodeIndex)!.productRowOrder }
        let sides = mapping.configuration.sides
        conductances = (0..<passes).map { _ in
            mapping.layers.map { layer in
                (0..<(layer.slices * sides)).map { _ in DeviceBuffer(count: layer.weightCount) }
            }
        }
        kappa = mapping.layers.map { layer in
            Array(
                repeating: Array(repeating: 0, count: layer.columns),
                count: layer.slices * sides)
        }
        compensations = Array(repeating: mapping.layers.map { Array(repeating: 1, count: $0.columns) }, count: passes)
        inputRange = Array(repeating: 0, count: mapping.layers.count)
        adcLow = mapping.layers.map { Array(repeating: 0, count: $0.columns) }
        adcHigh = mapping.layers.map { Array(repeating: 0, count: $0.columns) }
        plane = .allocateZeroed(largestInput)
        partial = .allocateZeroed(largestOutput)
        merged = .allocateZeroed(largestOutput)
        columnFactors = .allocateZeroed(mapping.layers.map(\.columns).max() ?? 1)
        variances = Array(repeating: mapping.layers.map { _ in [] }, count: passes)
        readNoiseInPass = Array(repeating: false, count: passes)
        squaredPlane = .allocateZeroed(0)
        partialVariance = .allocateZeroed(0)
        noise = ProductNoise(layers: mapping.layers.count, largestOutput: 0)
        largestProductInput = largestInput
        largestProductOutput = largestOutput
    }

    deinit {
        squaredPlane.deallocate()
        partialVariance.deallocate()
        plane.deallocate()
        partial.deallocate()
        merged.deallocate()
        columnFactors.deallocate()
    }

    /// Loads the devices' normalised conductances of every layer (the layout of
    /// `LayerMapping.targets`) into pass 0 and selects it, with, for per-read noise, their
    /// read-noise variances (units of the range²) and the stream the pass's draws come from.
    func load(
        _ conductances: [UnsafeMutableBufferPointer<Float>],
        readNoiseVariances: [UnsafeMutableBufferPointer<Float>]? = nil,
        stream: CounterRandom? = nil
    ) {
        for (index, layer) in mapping.layers.enumerated() {
            startLayer(index, pass: 0, readNoise: readNoiseVariances != nil)
            layer.coefficients.withUnsafeBufferPointer { coefficients in
                place(
                    pass: 0, layer: index, weights: 0..<layer.weightCount, coefficients: coefficients.baseAddress!,
                    levels: conductances[index].baseAddress!, variances: readNoiseVariances?[index].baseAddress)
            }
            finishLayer(index, pass: 0, factors: nil)
        }
        select(pass: 0, stream: stream ?? CounterRandom(seed: 0, instance: 0, purpose: .productNoise))
    }

    /// Prepares pass `pass` for layer `layerIndex`; `readNoise`: whether it has per-read noise.
    package func startLayer(_ layerIndex: Int, pass: Int, readNoise: Bool) {
        readNoiseInPass[pass] = readNoise
        guard readNoise && variances[pass][layerIndex].isEmpty else { return }
        let layer = mapping.layers[layerIndex]
        variances[pass][layerIndex] = (0..<(layer.slices * mapping.configuration.sides)).map { _ in
            DeviceBuffer(count: layer.weightCount)
        }
        if squaredPlane.isEmpty {
            squaredPlane = .allocateZeroed(largestProductInput)
            partialVariance = .allocateZeroed(largestProductOutput)
        }
    }

    /// Stores the chunk's levels `levels` (and read-noise variances) of the weights from
    /// `firstWeight` on in pass `pass`.
    package func store(
        _ chunk: DeviceChunk, pass: Int, layer layerIndex: Int, firstWeight: Int, levels: DeviceBuffer<Float>
    ) {
        let perWeight = mapping.layers[layerIndex].devicesPerWeight
        place(
            pass: pass, layer: layerIndex, weights: firstWeight..<(firstWeight + chunk.count / perWeight),
            coefficients: chunk.coefficients.base, levels: levels.base,
            variances: readNoiseInPass[pass] ? chunk.variance.base : nil)
    }

    /// Sets pass `pass`'s drift compensation of layer `layerIndex` (nil: none).
    /// Reference columns have no tile-accurate model: nothing to store.
    package func storeReference(_ chunk: DeviceChunk, pass: Int, layer: Int, firstDevice: Int) {}

    package func install(on workspace: NetworkWorkspace, after effects: ProductEffect?) {
        workspace.matrixProduct = { [unowned self] in
            self.product(node: $0, group: $1, input: $2, rows: $3, inner: $4, output: $5, outputs: $6, outputStride: $7)
        }
    }

    package func finishLayer(_ layerIndex: Int, pass: Int, factors: [Float]?) {
        compensations[pass][layerIndex] = factors ?? Array(repeating: 1, count: mapping.layers[layerIndex].columns)
    }

    /// Evaluates pass `pass` from here on, its per-read draws from `stream` restarted.
    package func select(pass: Int, stream: CounterRandom) {
        self.pass = pass
        readNoiseActive = readNoiseInPass[pass]
        noise.restart(stream)
    }

    /// Writes weights `weights` of layer `layerIndex` into pass `pass`: `D = ±x` per slice and
    /// side, from their devices' coefficients and levels (`coefficients[0]` is the first weight's).
    private func place(
        pass: Int, layer index: Int, weights: Range<Int>, coefficients: UnsafePointer<Float>,
        levels: UnsafePointer<Float>, variances deviceVariances: UnsafePointer<Float>?
    ) {
        let layer = mapping.layers[index]
        let units = layer.slices * mapping.configuration.sides
        let order = rowOrder[index]
        let conductance = conductances[pass][index]
        let variance = variances[pass][index]
        for weight in weights {
            let (column, row) = weight.quotientAndRemainder(dividingBy: layer.rows)
            let target = column * layer.rows + order[row]
            for unit in 0..<units {
                let device = (weight - weights.lowerBound) * layer.devicesPerWeight + unit
                let coefficient = coefficients[device]
                conductance[unit][target] = coefficient < 0 ? -levels[device] : levels[device]
                if let deviceVariances { variance[unit][target] = deviceVariances[device] }
                if row == 0 { kappa[index][unit][column] = abs(coefficient) }
            }
        }
    }

    /// Adds per-read noise to partial sums `values` (`[rows × outputs]`) of input `source`
    /// against `units` (each with its weight in the analog sum: 1 per slice, or the merged
    /// shift-and-add factors).
    private func addReadNoise(
        to values: UnsafeMutableBufferPointer<Float>, source: UnsafePointer<Float>, rows: Int, outputs: Int,
        tileStart: Int, tileRows: Int, inner: Int, index: Int, matrixOffset: Int, units: [(unit: Int, weight: Float)]
    ) {
        for row in 0..<rows {
            for column in 0..<tileRows {
                let value = source[row * inner + tileStart + column]
                squaredPlane[row * tileRows + column] = value * value
            }
        }
        for (position, unit) in units.enumerated() {
            BLAS.gemm(
                transposeB: true, m: rows, n: outputs, k: tileRows, alpha: unit.weight * unit.weight,
                a: squaredPlane.baseAddress!, lda: tileRows,
                b: variances[pass][index][unit.unit].base + matrixOffset + tileStart, ldb: inner,
                beta: position == 0 ? 0 : 1, c: partialVariance.baseAddress!, ldc: outputs)
        }
        noise.add(
            variances: partialVariance.baseAddress!, rows: rows, outputs: outputs, layer: index,
            to: values.baseAddress!,
            outputStride: outputs)
    }

    /// Sets the DAC input ranges and the ADC ranges from noise-free passes over `images`
    /// (the devices at their targets, ideal converters).
    package func calibrate(network: Network, workspace: NetworkWorkspace, images: LabeledImages) {
        let targets = mapping.layers.map { layer in
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: layer.targets.count)
            _ = buffer.initialize(from: layer.targets)
            return buffer
        }
        load(targets)
        targets.forEach { $0.deallocate() }
        for index in adcLow.indices {
            inputRange[index] = 0
            for column in adcLow[index].indices {
                adcLow[index][column] = .infinity
                adcHigh[index][column] = -.infinity
            }
        }
        calibrating = true
        workspace.matrixProduct = { [unowned self] in
            self.product(node: $0, group: $1, input: $2, rows: $3, inner: $4, output: $5, outputs: $6, outputStride: $7)
        }
        _ = workspace.evaluate(network, on: images)
        workspace.matrixProduct = nil
        calibrating = false
        for index in adcLow.indices {
            // Layer-wide ranges unless per column; the fixed range replaces both.
            let low = adcLow[index].min() ?? 0
            let high = adcHigh[index].max() ?? 0
            for column in adcLow[index].indices {
                if periphery.adcRange == .calibrated || !adcLow[index][column].isFinite {
                    adcLow[index][column] = low
                    adcHigh[index][column] = high
                }
                if periphery.adcRange == .fixed {
                    adcHigh[index][column] = fixedFullScale(index)
                    adcLow[index][column] = -adcHigh[index][column]
                }
            }
        }
    }

    /// The largest partial sum an array can produce: every row at the input range with the
    /// largest conductance (times the shift-and-add weights when merged).
    private func fixedFullScale(_ index: Int) -> Float {
        let layer = mapping.layers[index]
        let rows = Float(min(arrayRows, layer.rows))
        let range = inputRange[index]
        guard periphery.adcPlacement == .merged else { return rows * range }
        let base = Float(1 << mapping.cellBits)
        let shifts = (0..<layer.slices).reduce(Float(0)) { $0 + pow(base, Float($1)) }
        return rows * range * shifts * Float(mapping.configuration.sides)
    }

    /// Input bits applied per cycle: `dacBitsPerCycle`, or all of them when it is 0.
    static func dacBitsPerCycle(_ periphery: PeripheryConfiguration) -> Int {
        periphery.dacBitsPerCycle == 0 ? periphery.dacBits : min(periphery.dacBitsPerCycle, periphery.dacBits)
    }

    /// Bit-serial input cycles per sign: ⌈dacBits / dacBitsPerCycle⌉ (1 without a DAC).
    static func dacCycles(_ periphery: PeripheryConfiguration) -> Int {
        guard periphery.dacBits > 0 else { return 1 }
        let perCycle = dacBitsPerCycle(periphery)
        return (periphery.dacBits + perCycle - 1) / perCycle
    }

    /// Crossbar products per weight of `layer` in one pass: one per slice and side of the pair
    /// and per input plane (both signs of every DAC cycle).
    package static func productsPerWeight(
        _ layer: LayerMapping, configuration: MappingConfiguration, periphery: PeripheryConfiguration
    ) -> Int {
        layer.slices * configuration.sides * (periphery.dacBits == 0 ? 1 : 2 * dacCycles(periphery))
    }

    /// The product of group `group` of node `node`, added into `output` (`NetworkWorkspace.matrixProduct`):
    /// the group's outputs are columns `group · outputs ..< (group + 1) · outputs` of the layer.
    func product(
        node: Int, group: Int, input: UnsafePointer<Float>, rows: Int, inner: Int,
        output: UnsafeMutablePointer<Float>, outputs: Int, outputStride: Int
    ) {
        guard let index = mappedIndex[node] else { return }
        let firstColumn = group * outputs
        let matrixOffset = firstColumn * inner
        let units = conductances[pass][index].count
        let dacBits = calibrating ? 0 : periphery.dacBits
        if calibrating {
            for element in 0..<(rows * inner) { inputRange[index] = max(inputRange[index], abs(input[element])) }
        }
        // Input planes: the sign and bit shift they take from the input codes, the weight ω that
        // turns a plane's codes back into input units, and the factor from the calibrated
        // (input-unit) ADC range to the plane's code units.
        var planes: [(sign: Float, shift: Int, weight: Float, rangeFraction: Float)] = []
        let levels = dacBits == 0 ? 0 : (1 << dacBits) - 1
        if dacBits == 0 {
            planes = [(1, 0, 1, 1)]
        } else {
            // Not calibrating here, so dacBits is the periphery's.
            let perCycle = Self.dacBitsPerCycle(periphery)
            let cycles = Self.dacCycles(periphery)
            let step = inputRange[index] / Float(levels)
            for sign: Float in [1, -1] {
                for cycle in 0..<cycles {
                    planes.append(
                        (
                            sign, cycle * perCycle, sign * Float(1 << (cycle * perCycle)) * step,
                            inputRange[index] > 0 ? Float((1 << perCycle) - 1) / inputRange[index] : 0
                        ))
                }
            }
        }
        let perCycleMask =
            periphery.dacBitsPerCycle == 0 ? levels : (1 << min(periphery.dacBitsPerCycle, max(dacBits, 1))) - 1
        for planeSpec in planes {
            let source: UnsafePointer<Float>
            if dacBits == 0 {
                source = input
            } else {
                let range = inputRange[index]
                for element in 0..<(rows * inner) {
                    let value = max(0, min(planeSpec.sign * input[element], range))
                    let code = range > 0 ? Int((value / range * Float(levels)).rounded(.toNearestOrEven)) : 0
                    plane[element] = Float((code >> planeSpec.shift) & perCycleMask)
                }
                source = UnsafePointer(plane.baseAddress!)
            }
            for tileStart in stride(from: 0, to: inner, by: arrayRows) {
                let tileRows = min(arrayRows, inner - tileStart)
                if periphery.adcPlacement == .slice {
                    for unit in 0..<units {
                        BLAS.gemm(
                            transposeB: true, m: rows, n: outputs, k: tileRows,
                            a: source + tileStart, lda: inner,
                            b: conductances[pass][index][unit].base + matrixOffset + tileStart, ldb: inner,
                            c: partial.baseAddress!, ldc: outputs)
                        if !calibrating {
                            applyIRDrop(
                                source + tileStart, rows, tileRows, inner, unit, index, matrixOffset + tileStart,
                                outputs, partial.baseAddress!, 1)
                        }
                        if readNoiseActive && !calibrating {
                            addReadNoise(
                                to: partial, source: source, rows: rows, outputs: outputs, tileStart: tileStart,
                                tileRows: tileRows, inner: inner, index: index, matrixOffset: matrixOffset,
                                units: [(unit, 1)])
                        }
                        convert(
                            partial, rows: rows, outputs: outputs, firstColumn: firstColumn, index: index,
                            rangeFraction: planeSpec.rangeFraction,
                            scale: { column in planeSpec.weight * self.kappa[index][unit][column] },
                            into: output, outputStride: outputStride)
                    }
                } else {
                    for unit in 0..<units {
                        // Analog shift-and-add: slice j weighs B^j (the side's sign is in D).
                        let shift = pow(Float(1 << mapping.cellBits), Float(unit / mapping.configuration.sides))
                        BLAS.gemm(
                            transposeB: true, m: rows, n: outputs, k: tileRows, alpha: shift,
                            a: source + tileStart, lda: inner,
                            b: conductances[pass][index][unit].base + matrixOffset + tileStart, ldb: inner,
                            beta: unit == 0 ? 0 : 1, c: merged.baseAddress!, ldc: outputs)
                        if !calibrating {
                            applyIRDrop(
                                source + tileStart, rows, tileRows, inner, unit, index, matrixOffset + tileStart,
                                outputs, merged.baseAddress!, shift)
                        }
                    }
                    if readNoiseActive && !calibrating {
                        addReadNoise(
                            to: merged, source: source, rows: rows, outputs: outputs, tileStart: tileStart,
                            tileRows: tileRows, inner: inner, index: index, matrixOffset: matrixOffset,
                            units: (0..<units).map {
                                ($0, pow(Float(1 << mapping.cellBits), Float($0 / mapping.configuration.sides)))
                            })
                    }
                    convert(
                        merged, rows: rows, outputs: outputs, firstColumn: firstColumn, index: index,
                        rangeFraction: planeSpec.rangeFraction,
                        scale: { column in planeSpec.weight * self.kappa[index][0][column] },
                        into: output, outputStride: outputStride)
                }
            }
        }
    }

    /// IR drop on the partial sums `output` of `input` against unit `unit`'s conductances from
    /// `matrixOffset` (one array of `tileRows` rows), scaled by `alpha` (the merged shift).
    private func applyIRDrop(
        _ input: UnsafePointer<Float>, _ rows: Int, _ tileRows: Int, _ inner: Int, _ unit: Int, _ index: Int,
        _ matrixOffset: Int, _ outputs: Int, _ output: UnsafeMutablePointer<Float>, _ alpha: Float
    ) {
        guard let irDrop else { return }
        unitScales.withUnsafeBufferPointer { scales in
            irDrop.apply(
                input: input, rows: rows, inner: tileRows, lda: inner,
                weights: conductances[pass][index][unit].base + matrixOffset, ldb: inner, scales: scales.baseAddress!,
                outputs: outputs, output: output, ldc: outputs, alpha: alpha)
        }
    }

    /// ADC conversion of `values` (`[rows × outputs]`, layer columns `firstColumn …`) and digital
    /// accumulation: `output += compensation · scale(column) · ADC(value)`; during calibration,
    /// records ranges.
    @inline(__always)
    private func convert(
        _ values: UnsafeMutableBufferPointer<Float>, rows: Int, outputs: Int, firstColumn: Int,
        index: Int, rangeFraction: Float, scale: (Int) -> Float,
        into output: UnsafeMutablePointer<Float>, outputStride: Int
    ) {
        let factors = columnFactors
        for column in 0..<outputs {
            factors[column] = compensations[pass][index][firstColumn + column] * scale(firstColumn + column)
        }
        if calibrating {
            for row in 0..<rows {
                for column in 0..<outputs {
                    let value = values[row * outputs + column]
                    adcLow[index][firstColumn + column] = min(adcLow[index][firstColumn + column], value)
                    adcHigh[index][firstColumn + column] = max(adcHigh[index][firstColumn + column], value)
                    output[row * outputStride + column] += factors[column] * value
                }
            }
            return
        }
        let bits = periphery.adcBits
        guard bits > 0 else {
            for row in 0..<rows {
                for column in 0..<outputs {
                    output[row * outputStride + column] += factors[column] * values[row * outputs + column]
                }
            }
            return
        }
        for column in 0..<outputs {
            let layerColumn = firstColumn + column
            let adc = ADCQuantizer(
                low: adcLow[index][layerColumn] * rangeFraction,
                high: adcHigh[index][layerColumn] * rangeFraction, bits: bits)
            let factor = factors[column]
            for row in 0..<rows {
                output[row * outputStride + column] += factor * adc.convert(values[row * outputs + column])
            }
        }
    }
}
