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
/// Per-read noise (`load(_:readNoiseVariances:stream:)`) adds to every partial sum, before its
/// ADC, `N(0, plane² · Varᵀ)` from the devices' read-noise variances (one more sgemm per slice
/// and side; merged: the slices' variances weighted by their shift-and-add factors squared).
final class TileSimulator {
    let mapping: CrossbarMapping
    let periphery: PeripheryConfiguration
    let arrayRows: Int
    /// Mapped layer index of each network node (nil for nodes without crossbar weights).
    private let mappedIndex: [Int?]
    /// Per mapped layer: conductance matrices `[slice · sides + side][columns × rows]`.
    private var conductance: [[UnsafeMutableBufferPointer<Float>]]
    /// Per mapped layer: `κ[slice · sides + side][column]`.
    private var kappa: [[[Float]]]
    /// Per mapped layer: where PyTorch row `k` of the weight matrix sits in the product's
    /// input order (conv2d patches are `(ky, kx, channel)`).
    private let rowOrder: [[Int]]
    /// Drift compensation per mapped layer and column (1 = none), set before each pass.
    var compensation: [[Float]]
    /// Calibrated input range per mapped layer (max |input|).
    private(set) var inputRange: [Float]
    /// ADC range per mapped layer and column: low and high.
    private(set) var adcLow: [[Float]]
    private(set) var adcHigh: [[Float]]
    /// Whether passes record ranges (calibration) instead of converting.
    private var calibrating = false
    private var plane: UnsafeMutableBufferPointer<Float>
    private var partial: UnsafeMutableBufferPointer<Float>
    private var merged: UnsafeMutableBufferPointer<Float>
    private var columnFactors: UnsafeMutableBufferPointer<Float>
    /// Per-read noise: per mapped layer, read-noise variances `[unit][columns × rows]` (empty
    /// when off), the squared plane, the partial sums' variances, draws and running counters.
    private var variance: [[UnsafeMutableBufferPointer<Float>]]
    private var squaredPlane: UnsafeMutableBufferPointer<Float>
    private var partialVariance: UnsafeMutableBufferPointer<Float>
    private var noiseDraws: UnsafeMutableBufferPointer<Float>
    private var noiseStream = CounterRandom(seed: 0, instance: 0, purpose: .productNoise)
    private var noiseCounters: [Int]
    private var readNoiseActive = false
    /// The largest product input and output (floats), for the per-read buffers made on first use.
    private let largestProductInput: Int
    private let largestProductOutput: Int

    init(network: Network, mapping: CrossbarMapping, periphery: PeripheryConfiguration, batchCapacity: Int) throws {
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
        conductance = mapping.layers.map { layer in
            (0..<(layer.slices * sides)).map { _ in .allocateZeroed(layer.weightCount) }
        }
        kappa = mapping.layers.map { layer in
            Array(
                repeating: Array(repeating: 0, count: layer.columns),
                count: layer.slices * sides)
        }
        compensation = mapping.layers.map { Array(repeating: 1, count: $0.columns) }
        inputRange = Array(repeating: 0, count: mapping.layers.count)
        adcLow = mapping.layers.map { Array(repeating: 0, count: $0.columns) }
        adcHigh = mapping.layers.map { Array(repeating: 0, count: $0.columns) }
        plane = .allocateZeroed(largestInput)
        partial = .allocateZeroed(largestOutput)
        merged = .allocateZeroed(largestOutput)
        columnFactors = .allocateZeroed(mapping.layers.map(\.columns).max() ?? 1)
        variance = mapping.layers.map { _ in [] }
        squaredPlane = .allocateZeroed(0)
        partialVariance = .allocateZeroed(0)
        noiseDraws = .allocateZeroed(0)
        noiseCounters = Array(repeating: 0, count: mapping.layers.count)
        largestProductInput = largestInput
        largestProductOutput = largestOutput
    }

    deinit {
        conductance.forEach { $0.forEach { $0.deallocate() } }
        variance.forEach { $0.forEach { $0.deallocate() } }
        squaredPlane.deallocate()
        partialVariance.deallocate()
        noiseDraws.deallocate()
        plane.deallocate()
        partial.deallocate()
        merged.deallocate()
        columnFactors.deallocate()
    }

    /// Loads the devices' normalised conductances (the layout of `LayerMapping.targets`) and,
    /// for per-read noise, their read-noise variances (units of the range²) with the stream the
    /// pass's draws come from (restarted here).
    func load(
        _ conductances: [UnsafeMutableBufferPointer<Float>],
        readNoiseVariances: [UnsafeMutableBufferPointer<Float>]? = nil,
        stream: CounterRandom? = nil
    ) {
        let sides = mapping.configuration.sides
        readNoiseActive = readNoiseVariances != nil
        if let stream { noiseStream = stream }
        noiseCounters = noiseCounters.map { _ in 0 }
        if readNoiseActive && squaredPlane.isEmpty {
            variance = mapping.layers.map { layer in
                (0..<(layer.slices * sides)).map { _ in .allocateZeroed(layer.weightCount) }
            }
            squaredPlane = .allocateZeroed(largestProductInput)
            partialVariance = .allocateZeroed(largestProductOutput)
            noiseDraws = .allocateZeroed(largestProductOutput)
        }
        for (index, layer) in mapping.layers.enumerated() {
            let source = conductances[index]
            let deviceVariances = readNoiseVariances?[index]
            let order = rowOrder[index]
            layer.coefficients.withUnsafeBufferPointer { coefficients in
                for column in 0..<layer.columns {
                    for row in 0..<layer.rows {
                        let weight = column * layer.rows + row
                        let target = column * layer.rows + order[row]
                        for unit in 0..<(layer.slices * sides) {
                            let device = weight * layer.devicesPerWeight + unit
                            let coefficient = coefficients[device]
                            conductance[index][unit][target] = coefficient < 0 ? -source[device] : source[device]
                            if let deviceVariances { variance[index][unit][target] = deviceVariances[device] }
                            if row == 0 { kappa[index][unit][column] = abs(coefficient) }
                        }
                    }
                }
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
                b: variance[index][unit.unit].baseAddress! + matrixOffset + tileStart, ldb: inner,
                beta: position == 0 ? 0 : 1, c: partialVariance.baseAddress!, ldc: outputs)
        }
        let count = rows * outputs
        noiseStream.fillNormals(
            UnsafeMutableBufferPointer(rebasing: noiseDraws[0..<count]), firstCounter: noiseCounters[index])
        noiseCounters[index] += count
        for element in 0..<count {
            values[element] += max(partialVariance[element], 0).squareRoot() * noiseDraws[element]
        }
    }

    /// Sets the DAC input ranges and the ADC ranges from noise-free passes over `images`
    /// (the devices at their targets, ideal converters).
    func calibrate(network: Network, workspace: NetworkWorkspace, images: LabeledImages) {
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
    static func productsPerWeight(
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
        let units = conductance[index].count
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
                            b: conductance[index][unit].baseAddress! + matrixOffset + tileStart, ldb: inner,
                            c: partial.baseAddress!, ldc: outputs)
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
                            b: conductance[index][unit].baseAddress! + matrixOffset + tileStart, ldb: inner,
                            beta: unit == 0 ? 0 : 1, c: merged.baseAddress!, ldc: outputs)
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
            factors[column] = compensation[index][firstColumn + column] * scale(firstColumn + column)
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
